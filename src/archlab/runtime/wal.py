"""A write-ahead record log on a real file: checksummed records, group-committed fsync.

File layout: a header ``b"ARWL" | version u8``, then records
``length u32 | crc32 u32 | payload`` (payloads are never empty). Appends are plain ``write``
calls into the page cache; :meth:`WriteAheadLog.sync` makes everything appended so far
durable with one ``fdatasync`` — a caller that appends many records and syncs once commits
them as a group. ``sync`` may run in a worker thread while the event loop appends more: it
covers at least every record whose ``append`` returned before it was called.

Recovery (:meth:`WriteAheadLog.open`) reads the records back and tells a crash from damage:

- a **torn tail** — the last record cut short (its length reaches past the end of the file),
  or a failed record followed only by zero bytes (a filesystem that extended the file before
  writing the data) — is what a crash leaves of records that were never synced, hence never
  acknowledged; it is cut off and its size reported in ``torn_bytes``;
- a record that fails its checksum *with data after it* cannot be explained by a crash of an
  append-only writer: it is **corruption**, reported as :class:`~archlab.errors.CorruptionError`
  with the file and offset; the log refuses to open rather than silently dropping records that
  may have been acknowledged.

``durability``: ``"fsync"`` (``fdatasync`` on :meth:`sync`, ``fsync`` of new files and their
directory) or ``"none"`` (no fsync: records survive a process crash — they are in the page
cache — but not a power failure or kernel crash).
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, TypeAlias

from archlab.errors import CorruptionError
from archlab.runtime.atomicfile import fsync_directory

Durability: TypeAlias = Literal["fsync", "none"]
DURABILITIES: tuple[Durability, ...] = ("fsync", "none")

MAGIC = b"ARWL"
VERSION = 1
_FILE_HEAD = MAGIC + bytes([VERSION])
_RECORD = struct.Struct("<II")


def encode_record(payload: bytes) -> bytes:
    if not payload:
        raise ValueError("a record payload cannot be empty")
    return _RECORD.pack(len(payload), zlib.crc32(payload)) + payload


def scan(data: bytes, path: Path) -> tuple[list[bytes], int]:
    """Records of a log file's bytes and the offset where the intact prefix ends.

    Raises :class:`CorruptionError` for a bad header or damage that a crash cannot explain.
    """
    if data[: len(_FILE_HEAD)] != _FILE_HEAD:
        raise CorruptionError(path, 0, f"not a write-ahead log (header {data[:5]!r})")
    records: list[bytes] = []
    pos = len(_FILE_HEAD)
    size = len(data)
    while pos < size:
        if size - pos < _RECORD.size:
            break  # a header cut short: torn
        length, crc = _RECORD.unpack_from(data, pos)
        end = pos + _RECORD.size + length
        if end > size:
            break  # reaches past the end: torn
        payload = data[pos + _RECORD.size : end]
        if length == 0 or zlib.crc32(payload) != crc:
            damaged = any(data[pos:]) and (length == 0 or any(data[end:]))
            if damaged:
                raise CorruptionError(
                    path, pos, f"record fails its checksum and {size - end} bytes follow it"
                )
            break  # the rest is zeros, or this failed record ends the file: torn
        records.append(payload)
        pos = end
    return records, pos


class WriteAheadLog:
    """An open log file: append records, sync them (see the module docstring)."""

    def __init__(self, path: Path, fd: int, durability: Durability, torn_bytes: int) -> None:
        self.path = path
        self.durability = durability
        #: Bytes of torn tail cut off when the log was opened.
        self.torn_bytes = torn_bytes
        #: How many fsyncs this log has issued (group commit makes it far below the records).
        self.syncs = 0
        self._fd = fd
        self._lock = threading.Lock()

    @classmethod
    def create(cls, path: Path, records: Iterable[bytes], durability: Durability) -> None:
        """Write a new log holding ``records`` (durably, if the durability says so)."""
        data = _FILE_HEAD + b"".join(encode_record(r) for r in records)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, data)
            if durability == "fsync":
                os.fsync(fd)
        finally:
            os.close(fd)
        if durability == "fsync":
            fsync_directory(path.parent)

    @classmethod
    def open(cls, path: Path, durability: Durability) -> tuple[WriteAheadLog, list[bytes]]:
        """Open an existing log: its intact records, the torn tail cut off."""
        data = path.read_bytes()
        records, end = scan(data, path)
        fd = os.open(path, os.O_WRONLY)
        try:
            if end < len(data):
                os.ftruncate(fd, end)
                if durability == "fsync":
                    os.fsync(fd)
            os.lseek(fd, end, os.SEEK_SET)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, durability, len(data) - end), records

    def append(self, payloads: Iterable[bytes]) -> None:
        """Write records into the page cache (durable only after :meth:`sync`)."""
        data = b"".join(encode_record(p) for p in payloads)
        if data:
            _write_all(self._fd, data)

    def sync(self) -> None:
        """Make every record appended before this call durable (one ``fdatasync``)."""
        if self.durability != "fsync":
            return
        with self._lock:
            if self._fd < 0:
                raise ValueError(f"{self.path} is closed")
            os.fdatasync(self._fd)
            self.syncs += 1

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
