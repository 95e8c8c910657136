"""Checksummed records on a :class:`~archlab.sim.disk.Disk`: logs and atomic state files.

What a protocol persists (a Raft log and its hard state, a 2PC coordinator's decisions, a
register's value) goes through these two formats, so that a torn or lost write is *detected*
rather than read back as wrong data:

- :class:`RecordLog` appends frames ``[length u32][crc32 u32][payload]``. :meth:`RecordLog.open`
  scans the file, keeps the longest prefix of intact frames and cuts off a torn tail
  (reported in :attr:`RecordLog.recovered_torn_bytes`). :meth:`RecordLog.truncate` drops
  records from an index on (a Raft follower discarding a conflicting suffix);
  :meth:`RecordLog.rewrite` replaces the whole log atomically (after compacting it).
- :func:`write_state` / :func:`read_state` keep one framed JSON value in a file replaced
  atomically (temporary file + rename): after a crash it holds the old or the new value.

Payloads are bytes; :func:`encode` / :func:`decode` are the canonical JSON codec (sorted keys,
no spaces) used by the protocols here. Nothing is durable until the host syncs the disk (the
``Sync`` effect).
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable
from typing import Any, Protocol


class Files(Protocol):
    """What the records need of a disk: the simulator's :class:`~archlab.sim.disk.Disk`, or
    the runtime's real directory (:class:`archlab.runtime.filedisk.FileDisk`)."""

    def exists(self, path: str) -> bool: ...

    def create(self, path: str) -> None: ...

    def append(self, path: str, data: bytes) -> int: ...

    def read(self, path: str, offset: int = 0, size: int | None = None) -> bytes: ...

    def replace(self, path: str, data: bytes) -> None: ...

    def size(self, path: str) -> int: ...

    def truncate(self, path: str, size: int) -> None: ...


_HEADER = struct.Struct(">II")


def encode(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def decode(payload: bytes) -> Any:
    return json.loads(payload)


def frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def unframe_all(data: bytes) -> tuple[list[bytes], list[int], int]:
    """Intact frames of ``data``: (payloads, their offsets, bytes that follow the last one)."""
    payloads: list[bytes] = []
    offsets: list[int] = []
    pos = 0
    while pos + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, pos)
        start = pos + _HEADER.size
        end = start + length
        if end > len(data):
            break
        payload = data[start:end]
        if zlib.crc32(payload) != crc:
            break
        payloads.append(payload)
        offsets.append(pos)
        pos = end
    return payloads, offsets, len(data) - pos


class RecordLog:
    """An append-only log of byte records in one file of a disk."""

    def __init__(self, disk: Files, path: str) -> None:
        self.disk = disk
        self.path = path
        self._offsets: list[int] = []
        self._records: list[bytes] = []
        self.recovered_torn_bytes = 0

    @classmethod
    def open(cls, disk: Files, path: str) -> RecordLog:
        """Open (or create) the log, discarding a torn or corrupt tail left by a crash."""
        log = cls(disk, path)
        if disk.exists(path):
            payloads, offsets, tail = unframe_all(disk.read(path))
            log._records, log._offsets = payloads, offsets
            if tail:
                log.recovered_torn_bytes = tail
                disk.truncate(path, disk.size(path) - tail)
        else:
            disk.create(path)
        return log

    @classmethod
    def rewrite(cls, disk: Files, path: str, payloads: Iterable[bytes]) -> RecordLog:
        """Replace the log by one holding exactly ``payloads``, atomically (a new file renamed
        over the old one: after a crash, the old records or the new); returns it opened."""
        disk.replace(path, b"".join(frame(p) for p in payloads))
        return cls.open(disk, path)

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index: int) -> bytes:
        return self._records[index]

    @property
    def records(self) -> list[bytes]:
        return list(self._records)

    def append(self, payload: bytes) -> int:
        """Append one record; returns its index."""
        offset = self.disk.append(self.path, frame(payload))
        self._offsets.append(offset)
        self._records.append(payload)
        return len(self._records) - 1

    def truncate(self, keep: int) -> None:
        """Keep the first ``keep`` records, drop the rest."""
        if keep >= len(self._records):
            return
        self.disk.truncate(self.path, self._offsets[keep])
        del self._offsets[keep:]
        del self._records[keep:]


def write_state(disk: Files, path: str, value: Any) -> None:
    """Replace the state file ``path`` by ``value`` (JSON), atomically; durable after a sync."""
    disk.replace(path, frame(encode(value)))


def read_state(disk: Files, path: str) -> Any | None:
    """The value in the state file, or None if there is none (never a torn value)."""
    if not disk.exists(path):
        return None
    payloads, _, _ = unframe_all(disk.read(path))
    return decode(payloads[0]) if payloads else None
