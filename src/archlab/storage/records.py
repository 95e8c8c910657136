"""Framed, checksummed log records: the write-ahead logs and manifests of both engines.

A log file is a sequence of records::

    record := magic u32 (0xA7C41D0B) | length u32 | crc32(length ‖ payload) u32 | payload

Every record carries its own CRC, so a torn or corrupted record is never taken for data.
:func:`read_records` returns the payloads of the valid prefix. Where it meets an invalid
record it must tell a torn tail (a crash interrupted the last unsynced writes: expected,
and the tail is dropped) from corruption in the middle of the log (acknowledged records
after it would be lost silently). It searches the rest of the file for another valid record
(its magic, then its CRC): if one exists, the damage is in the middle and
:class:`~archlab.errors.CorruptionError` names the file and offset; if none does, the bad
bytes are a torn tail and the caller truncates them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from zlib import crc32

from archlab.errors import CorruptionError

MAGIC = 0xA7C41D0B
_HEADER = struct.Struct("<III")
_LEN_CRC = struct.Struct("<I")
HEADER_SIZE = _HEADER.size
_MAGIC_BYTES = struct.pack("<I", MAGIC)
MAX_RECORD = 64 << 20


def frame(payload: bytes) -> bytes:
    """One record holding ``payload``."""
    length = _LEN_CRC.pack(len(payload))
    return _HEADER.pack(MAGIC, len(payload), crc32(payload, crc32(length))) + payload


@dataclass
class LogContents:
    payloads: list[bytes]
    #: where each payload's record starts
    offsets: list[int]
    #: offset just past the last valid record: where appends resume after a torn tail
    valid_end: int
    torn_bytes: int


def read_records(data: bytes, path: str) -> LogContents:
    """The valid records of a log file's bytes (see the module docstring)."""
    payloads: list[bytes] = []
    offsets: list[int] = []
    pos = 0
    size = len(data)
    while pos < size:
        if _valid_at(data, pos):
            length = _HEADER.unpack_from(data, pos)[1]
            start = pos + HEADER_SIZE
            payloads.append(data[start : start + length])
            offsets.append(pos)
            pos = start + length
            continue
        later = data.find(_MAGIC_BYTES, pos + 1)
        while later != -1:
            if _valid_at(data, later):
                raise CorruptionError(
                    path,
                    pos,
                    f"log record fails its checksum but a valid record follows at offset {later}",
                )
            later = data.find(_MAGIC_BYTES, later + 1)
        return LogContents(payloads, offsets, pos, size - pos)
    return LogContents(payloads, offsets, pos, 0)


def _valid_at(data: bytes, pos: int) -> bool:
    if pos + HEADER_SIZE > len(data):
        return False
    magic, length, crc = _HEADER.unpack_from(data, pos)
    if magic != MAGIC or length > MAX_RECORD:
        return False
    end = pos + HEADER_SIZE + length
    if end > len(data):
        return False
    payload = data[pos + HEADER_SIZE : end]
    return bool(crc32(payload, crc32(_LEN_CRC.pack(length))) == crc)
