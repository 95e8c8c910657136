"""A storage node (BookKeeper's *bookie*): ledger fragments on disk, fencing (codex 7.2).

A bookie stores entries ``(ledger, entry id) -> bytes`` for whichever ledgers' ensembles it is
in, one append-only file per ledger (``<ledger>.log``: records ``entry u64 | lac i64 | length
u32 | data``) with an in-memory index rebuilt from the files when the bookie starts. Each entry
carries the writer's last-add-confirmed (LAC) id, which recovery reads back.

:meth:`Bookie.fence` is how a new owner stops an old writer: once a ledger is fenced on a
bookie, further adds to it are refused with :class:`LedgerFenced`, so an old broker that has
lost its topic cannot get an acknowledgement from a quorum any more.

With ``sync=True`` every add is fsynced before it is acknowledged, as BookKeeper's journal is
(``archlab tiered serve`` runs so); the experiments leave it off, since they count bytes and
placements, not durability.
"""

from __future__ import annotations

import os
import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

_RECORD = struct.Struct("<QqI")
#: Ledger files kept open at once (appends and reads reuse them; the least recent is closed).
OPEN_FILES = 32


class BookieUnavailable(ConnectionError):
    pass


class LedgerFenced(PermissionError):
    pass


@dataclass
class _LedgerFile:
    index: dict[int, tuple[int, int]] = field(default_factory=dict)  # entry -> (offset, length)
    lac: int = -1
    size: int = 0


class Bookie:
    def __init__(self, name: str, directory: Path, sync: bool = False) -> None:
        self.name = name
        self.sync = sync
        self.directory = directory
        self.up = True
        self.fenced: set[int] = set()
        self.bytes_written = 0
        directory.mkdir(parents=True, exist_ok=True)
        self._ledgers: dict[int, _LedgerFile] = {}
        self._files: OrderedDict[int, BinaryIO] = OrderedDict()
        for path in sorted(directory.glob("*.log")):
            self._ledgers[int(path.stem)] = _scan(path)

    def _check(self) -> None:
        if not self.up:
            raise BookieUnavailable(f"bookie {self.name} is down")

    def _path(self, ledger: int) -> Path:
        return self.directory / f"{ledger}.log"

    def add_entry(self, ledger: int, entry: int, data: bytes, lac: int) -> None:
        self._check()
        if ledger in self.fenced:
            raise LedgerFenced(f"ledger {ledger} is fenced on bookie {self.name}")
        state = self._ledgers.setdefault(ledger, _LedgerFile())
        if entry in state.index:
            return  # a retried add (recovery re-replicating): already durable here
        f = self._file(ledger)
        f.write(_RECORD.pack(entry, lac, len(data)) + data)
        f.flush()
        if self.sync:
            os.fsync(f.fileno())
        state.index[entry] = (state.size + _RECORD.size, len(data))
        state.size += _RECORD.size + len(data)
        state.lac = max(state.lac, lac)
        self.bytes_written += len(data)

    def recovery_add(self, ledger: int, entry: int, data: bytes) -> None:
        """An add by the recovering owner: allowed on a fenced ledger (BookKeeper's flag)."""
        was_fenced = ledger in self.fenced
        self.fenced.discard(ledger)
        try:
            self.add_entry(ledger, entry, data, lac=-1)
        finally:
            if was_fenced:
                self.fenced.add(ledger)

    def holds_entry(self, ledger: int, entry: int) -> bool:
        state = self._ledgers.get(ledger)
        return state is not None and entry in state.index

    def read_entry(self, ledger: int, entry: int) -> bytes | None:
        self._check()
        state = self._ledgers.get(ledger)
        if state is None or entry not in state.index:
            return None
        offset, length = state.index[entry]
        return os.pread(self._file(ledger).fileno(), length, offset)

    def fence(self, ledger: int) -> tuple[int, int]:
        """Fence ``ledger`` here; ``(last entry id held, highest LAC seen)``, -1 when none."""
        self._check()
        self.fenced.add(ledger)
        state = self._ledgers.get(ledger)
        if state is None:
            return -1, -1
        return max(state.index, default=-1), state.lac

    def delete_ledger(self, ledger: int) -> int:
        """Drop a ledger's fragment (offloaded or past retention); bytes freed."""
        state = self._ledgers.pop(ledger, None)
        self.fenced.discard(ledger)
        handle = self._files.pop(ledger, None)
        if handle is not None:
            handle.close()
        if state is None:
            return 0
        self._path(ledger).unlink(missing_ok=True)
        return state.size

    def _file(self, ledger: int) -> BinaryIO:
        handle = self._files.get(ledger)
        if handle is None:
            handle = self._path(ledger).open("a+b")
            self._files[ledger] = handle
            while len(self._files) > OPEN_FILES:
                self._files.popitem(last=False)[1].close()
        else:
            self._files.move_to_end(ledger)
        return handle

    def close(self) -> None:
        """Close the ledger files this bookie holds open."""
        while self._files:
            self._files.popitem()[1].close()

    def holds(self, ledger: int) -> bool:
        return ledger in self._ledgers

    def ledger_bytes(self, ledger: int) -> int:
        state = self._ledgers.get(ledger)
        return 0 if state is None else state.size

    def disk_bytes(self) -> int:
        return sum(s.size for s in self._ledgers.values())

    def ledgers(self) -> list[int]:
        return sorted(self._ledgers)


def _scan(path: Path) -> _LedgerFile:
    """Rebuild one ledger file's index; a torn last record is cut off."""
    state = _LedgerFile()
    data = path.read_bytes()
    pos = 0
    while pos + _RECORD.size <= len(data):
        entry, lac, length = _RECORD.unpack_from(data, pos)
        if pos + _RECORD.size + length > len(data):
            break
        state.index[entry] = (pos + _RECORD.size, length)
        state.lac = max(state.lac, lac)
        pos += _RECORD.size + length
    if pos < len(data):
        with path.open("r+b") as f:
            f.truncate(pos)
    state.size = pos
    return state
