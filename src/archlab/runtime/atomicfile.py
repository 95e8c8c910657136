"""Small files replaced atomically and checked on read (the hard state, the snapshot).

:func:`write_atomic` writes ``magic | version u8 | length u32 | crc32 u32 | payload`` to a
temporary file, fsyncs it, renames it over the target and fsyncs the directory, so after a
crash at any point the target holds either the old or the new content, whole. :func:`read_atomic`
returns the payload, ``None`` when the file does not exist, and raises
:class:`~archlab.errors.CorruptionError` for anything else (wrong magic or version, short file,
checksum mismatch): an atomically replaced file cannot be torn by a crash, so a bad one is
damage and is reported, never read as data.

``durable=False`` skips the fsyncs (the rename is still atomic against a process crash, which is
all the page cache promises).
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from archlab.errors import CorruptionError

FORMAT_VERSION = 1
_HEAD = struct.Struct("<4sBII")  # magic, version, length, crc32


def fsync_directory(directory: Path) -> None:
    """Make a rename or creation in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, magic: bytes, payload: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` by ``payload`` (see the module docstring)."""
    if len(magic) != 4:
        raise ValueError("magic must be 4 bytes")
    data = _HEAD.pack(magic, FORMAT_VERSION, len(payload), zlib.crc32(payload)) + payload
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if durable:
        fsync_directory(path.parent)


def read_atomic(path: Path, magic: bytes) -> bytes | None:
    """The payload of ``path``, ``None`` if absent; :class:`CorruptionError` if damaged."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(data) < _HEAD.size:
        raise CorruptionError(path, 0, f"{len(data)} bytes, shorter than the header")
    found, version, length, crc = _HEAD.unpack_from(data)
    if found != magic:
        raise CorruptionError(path, 0, f"magic {found!r}, expected {magic!r}")
    if version != FORMAT_VERSION:
        raise CorruptionError(path, 4, f"format version {version}, expected {FORMAT_VERSION}")
    payload = data[_HEAD.size :]
    if len(payload) != length:
        raise CorruptionError(
            path, _HEAD.size, f"{len(payload)} payload bytes, header says {length}"
        )
    if zlib.crc32(payload) != crc:
        raise CorruptionError(path, _HEAD.size, "checksum mismatch")
    return payload
