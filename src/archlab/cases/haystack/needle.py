"""The Haystack needle (codex 10.4): one photo as a self-describing record in a volume file.

Layout, little-endian, as in the Haystack paper's Figure 5::

    header magic u32 | cookie u64 | key u64 | alternate key u32 | flags u8 | size u32
    data (size bytes)
    footer magic u32 | checksum u32 (CRC-32 of header and data) | padding to 8 bytes

The cookie is a random number chosen at upload and carried in the photo's URL: a reader that
guesses a key without the cookie gets nothing. Deleting sets bit 0 of ``flags`` in place; the
bytes stay until compaction. A needle whose magic numbers or checksum do not match is a torn
or corrupt write (see :func:`parse`). No I/O here: :mod:`.volume` does the reads and writes.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

HEADER = struct.Struct("<IQQIBI")
FOOTER = struct.Struct("<II")
HEADER_MAGIC = 0xFACEB00C
FOOTER_MAGIC = 0x0DDBA11F
FLAG_DELETED = 0x01
ALIGN = 8
#: Offset of the flags byte inside a needle (delete flips it in place).
FLAGS_OFFSET = 4 + 8 + 8 + 4
#: Photos above this are refused (Haystack stores the sizes a CDN serves; 16 MiB is ample).
MAX_DATA = 16 * 2**20


class NeedleError(ValueError):
    """Bytes that are not a whole, intact needle."""


@dataclass(frozen=True)
class Needle:
    cookie: int
    key: int
    alt_key: int
    flags: int
    data: bytes

    @property
    def deleted(self) -> bool:
        return bool(self.flags & FLAG_DELETED)


def padded_length(size: int) -> int:
    """Bytes a needle with ``size`` bytes of data takes on disk, padding included."""
    raw = HEADER.size + size + FOOTER.size
    return raw + (-raw % ALIGN)


def encode(needle: Needle) -> bytes:
    if len(needle.data) > MAX_DATA:
        raise NeedleError(f"photo of {len(needle.data)} bytes is above the {MAX_DATA} limit")
    header = HEADER.pack(
        HEADER_MAGIC, needle.cookie, needle.key, needle.alt_key, needle.flags, len(needle.data)
    )
    checksum = zlib.crc32(needle.data, zlib.crc32(_checked(header)))
    body = header + needle.data + FOOTER.pack(FOOTER_MAGIC, checksum)
    return body + bytes(padded_length(len(needle.data)) - len(body))


def read_size(header: bytes) -> int:
    """The data size a needle header announces (raises :class:`NeedleError` on a bad header)."""
    if len(header) < HEADER.size:
        raise NeedleError(f"needle header cut short at {len(header)} bytes")
    magic, _, _, _, _, size = HEADER.unpack_from(header)
    if magic != HEADER_MAGIC or size > MAX_DATA:
        raise NeedleError("no needle header here (bad magic or size)")
    return int(size)


def parse(buffer: bytes) -> Needle:
    """The needle at the start of ``buffer``; raises :class:`NeedleError` if it is not intact."""
    size = read_size(buffer)
    end = HEADER.size + size
    if len(buffer) < end + FOOTER.size:
        raise NeedleError(f"needle of {size} bytes cut short at {len(buffer)} bytes")
    _, cookie, key, alt_key, flags, _ = HEADER.unpack_from(buffer)
    magic, checksum = FOOTER.unpack_from(buffer, end)
    header = buffer[: HEADER.size]
    data = bytes(buffer[HEADER.size : end])
    if magic != FOOTER_MAGIC or checksum != zlib.crc32(data, zlib.crc32(_checked(header))):
        raise NeedleError(f"needle {key}/{alt_key}: checksum mismatch")
    return Needle(cookie, key, alt_key, flags, data)


def _checked(header: bytes) -> bytes:
    """The header as the checksum covers it: flags zeroed, so a delete keeps it valid."""
    return header[:FLAGS_OFFSET] + b"\x00" + header[FLAGS_OFFSET + 1 :]
