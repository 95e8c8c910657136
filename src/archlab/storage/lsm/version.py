"""Versions (which SSTables are live, in which sorted runs) and the manifest that persists them.

A :class:`Version` is immutable: a list of sorted runs in read order, newest first. Under
leveled compaction each L0 table is a run of its own (tables in L0 overlap) followed by one
run per level L1..Ln (tables inside a level do not overlap); under size-tiered compaction each
run is the output of one flush or merge. A reader takes the current version once and reads
only from it, so a compaction that installs a new version never changes what an ongoing scan
sees.

The manifest is a log of version edits (framed, checksummed records, see
:mod:`archlab.storage.records`), each a small JSON object::

    {"add": [[level, file_no, size, min_key_hex, max_key_hex, min_seq, max_seq, entries,
              tombstones]],
     "remove": [file_no, ...], "log_no": n, "next_file": n, "last_seq": n, "runs": [...]}

An edit is appended and synced before the files it removes are deleted and after the files it
adds are synced, so after a crash the manifest names exactly the live tables; ``log_no`` is the
oldest write-ahead log whose records are not yet in a table. ``runs`` (tiered only) lists the
run membership as lists of file numbers, newest first. When the manifest has grown past a few
hundred edits it is rewritten as one snapshot edit into a new file and switched atomically by
``rename`` and a directory sync.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from archlab.errors import CorruptionError
from archlab.storage.lsm.sstable import TableReader


@dataclass(frozen=True)
class TableInfo:
    """What the manifest records about one SSTable."""

    file_no: int
    level: int
    size: int
    min_key: bytes
    max_key: bytes
    min_seq: int
    max_seq: int
    entries: int
    tombstones: int

    def to_json(self) -> list[Any]:
        return [
            self.level,
            self.file_no,
            self.size,
            self.min_key.hex(),
            self.max_key.hex(),
            self.min_seq,
            self.max_seq,
            self.entries,
            self.tombstones,
        ]

    @classmethod
    def from_json(cls, row: list[Any]) -> TableInfo:
        level, no, size, lo, hi, s0, s1, n, t = row
        return cls(
            int(no), int(level), int(size), bytes.fromhex(lo), bytes.fromhex(hi), s0, s1, n, t
        )


@dataclass
class Table:
    """A live SSTable: its manifest record and its open reader."""

    info: TableInfo
    reader: TableReader

    @property
    def file_no(self) -> int:
        return self.info.file_no

    @property
    def size(self) -> int:
        return self.info.size


@dataclass
class Run:
    """Non-overlapping tables in key order, one level (or one tier) of the tree."""

    level: int
    tables: list[Table]
    max_keys: list[bytes] = field(init=False)
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.tables.sort(key=lambda t: t.info.min_key)
        self.max_keys = [t.info.max_key for t in self.tables]
        self.size = sum(t.size for t in self.tables)

    def find(self, key: bytes) -> Table | None:
        """The one table whose key range may hold ``key``."""
        i = bisect_left(self.max_keys, key)
        if i == len(self.tables):
            return None
        table = self.tables[i]
        return table if table.info.min_key <= key else None

    def overlapping(self, lo: bytes, hi: bytes) -> list[Table]:
        return [t for t in self.tables if t.info.min_key <= hi and t.info.max_key >= lo]

    @property
    def max_seq(self) -> int:
        return max(t.info.max_seq for t in self.tables)


@dataclass
class Version:
    """The live runs, newest first (see the module docstring)."""

    runs: list[Run]

    def tables(self) -> list[Table]:
        return [t for r in self.runs for t in r.tables]

    def level_runs(self, level: int) -> list[Run]:
        return [r for r in self.runs if r.level == level]

    def total_bytes(self) -> int:
        return sum(r.size for r in self.runs)


def encode_edit(
    add: list[TableInfo],
    remove: list[int],
    log_no: int,
    next_file: int,
    last_seq: int,
    runs: list[list[int]] | None = None,
) -> bytes:
    edit: dict[str, Any] = {
        "add": [t.to_json() for t in add],
        "remove": remove,
        "log_no": log_no,
        "next_file": next_file,
        "last_seq": last_seq,
    }
    if runs is not None:
        edit["runs"] = runs
    return json.dumps(edit, separators=(",", ":")).encode()


@dataclass
class ManifestState:
    """The state a manifest's edits add up to."""

    tables: dict[int, TableInfo] = field(default_factory=dict)
    log_no: int = 0
    next_file: int = 1
    last_seq: int = 0
    runs: list[list[int]] | None = None
    edits: int = 0

    def apply(self, payload: bytes, path: str, offset: int) -> None:
        try:
            edit = json.loads(payload)
            for file_no in edit["remove"]:
                self.tables.pop(int(file_no), None)
            for row in edit["add"]:
                info = TableInfo.from_json(row)
                self.tables[info.file_no] = info
            self.log_no = max(self.log_no, int(edit["log_no"]))
            self.next_file = max(self.next_file, int(edit["next_file"]))
            self.last_seq = max(self.last_seq, int(edit["last_seq"]))
            if "runs" in edit:
                self.runs = [[int(n) for n in run] for run in edit["runs"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptionError(path, offset, f"manifest edit malformed: {exc}") from None
        self.edits += 1
