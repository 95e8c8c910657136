"""A schema language for Kafka messages and its codec, with flexible (tagged-field) versions.

Every Kafka request and response is a struct whose fields exist in a range of versions. From
an API's first *flexible* version on, strings, byte strings and arrays carry an unsigned-varint
length plus one (0 meaning null) instead of fixed int16/int32 lengths, and every struct ends
with a section of tagged fields (a varint count, then tag, size and bytes each). Decoding skips
tagged fields this broker does not use; encoding writes none.

A :class:`Field` names its type (a primitive name, or a tuple of fields for a struct), its
versions (``"3+"`` or ``"0-7"``), whether it is an array, in which versions it may be null and
its default. Messages are plain dicts keyed by field name. ``records`` fields accept raw bytes
or any other object (a :class:`~archlab.streaming.log.partition.LogSlice`), which encoding
returns as a separate part so the host can ``sendfile`` it.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Message = dict[str, Any]
Part = bytes | Any  # bytes, or an opaque slice of stored records the host sends itself


class ProtocolError(ValueError):
    """A frame that does not decode under the schema it claims."""


def _range(spec: str) -> tuple[int, int]:
    if spec == "none":
        return 99, -1
    if spec.endswith("+"):
        return int(spec[:-1]), 99
    lo, _, hi = spec.partition("-")
    return int(lo), int(hi or lo)


@dataclass(frozen=True)
class Field:
    name: str
    type: str | tuple[Field, ...]
    versions: str = "0+"
    array: bool = False
    nullable: str = "none"
    default: Any = None

    def present(self, version: int) -> bool:
        lo, hi = _range(self.versions)
        return lo <= version <= hi

    def is_nullable(self, version: int) -> bool:
        lo, hi = _range(self.nullable)
        return lo <= version <= hi


_FIXED = {
    "int8": struct.Struct(">b"),
    "int16": struct.Struct(">h"),
    "int32": struct.Struct(">i"),
    "int64": struct.Struct(">q"),
    "uint16": struct.Struct(">H"),
    "float64": struct.Struct(">d"),
}


def write_uvarint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


class Writer:
    def __init__(self) -> None:
        self.buf = bytearray()
        self.parts: list[Part] = []

    def finish(self) -> list[Part]:
        if self.buf:
            self.parts.append(bytes(self.buf))
            self.buf = bytearray()
        return self.parts

    def length(self, n: int, flexible: bool, wide: bool) -> None:
        if flexible:
            write_uvarint(self.buf, n + 1)
        else:
            self.buf += struct.pack(">i" if wide else ">h", n)

    def primitive(self, kind: str, value: Any, flexible: bool) -> None:
        if kind in _FIXED:
            self.buf += _FIXED[kind].pack(value)
        elif kind == "bool":
            self.buf.append(1 if value else 0)
        elif kind == "uuid":
            self.buf += value.bytes if isinstance(value, uuid.UUID) else bytes(16)
        elif kind == "string":
            if value is None:
                self.length(-1, flexible, wide=False)
            else:
                raw = value.encode()
                self.length(len(raw), flexible, wide=False)
                self.buf += raw
        elif kind == "bytes":
            if value is None:
                self.length(-1, flexible, wide=True)
            else:
                self.length(len(value), flexible, wide=True)
                self.buf += value
        elif kind == "records":
            self._records(value, flexible)
        else:
            raise TypeError(f"unknown field type {kind!r}")

    def _records(self, value: Any, flexible: bool) -> None:
        if value is None:
            self.length(-1, flexible, wide=True)
        elif isinstance(value, bytes | bytearray):
            self.length(len(value), flexible, wide=True)
            self.buf += value
        else:  # a stored slice: its length now, its bytes sent by the host
            self.length(int(value.length), flexible, wide=True)
            self.parts.append(bytes(self.buf))
            self.buf = bytearray()
            self.parts.append(value)


def encode(fields: Sequence[Field], version: int, flexible: bool, message: Message) -> list[Part]:
    w = Writer()
    _encode_struct(w, fields, version, flexible, message)
    return w.finish()


def _encode_struct(
    w: Writer, fields: Sequence[Field], version: int, flexible: bool, message: Message
) -> None:
    for f in fields:
        if not f.present(version):
            continue
        value = message.get(f.name, f.default)
        if f.array:
            if value is None and f.is_nullable(version):
                w.length(-1, flexible, wide=True)
                continue
            items = value or []
            w.length(len(items), flexible, wide=True)
            for item in items:
                _encode_value(w, f, item, version, flexible)
        else:
            _encode_value(w, f, value, version, flexible)
    if flexible:
        w.buf.append(0)  # no tagged fields


def _encode_value(w: Writer, f: Field, value: Any, version: int, flexible: bool) -> None:
    if isinstance(f.type, tuple):
        _encode_struct(w, f.type, version, flexible, value or {})
    else:
        if value is None and not f.is_nullable(version) and f.type != "records":
            value = _ZERO.get(f.type)
        w.primitive(f.type, value, flexible)


_ZERO: dict[str, Any] = {"string": "", "bytes": b"", "bool": False, "uuid": None} | {
    k: 0 for k in _FIXED
}


class Reader:
    def __init__(self, data: bytes | memoryview, pos: int = 0) -> None:
        self.data = memoryview(data)
        self.pos = pos

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError(f"field of {n} bytes runs past the end of the frame")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
            if shift > 35:
                raise ProtocolError("unsigned varint longer than 5 bytes")

    def length(self, flexible: bool, wide: bool) -> int:
        if flexible:
            return self.uvarint() - 1
        return int(struct.unpack(">i" if wide else ">h", self.take(4 if wide else 2))[0])

    def primitive(self, kind: str, flexible: bool) -> Any:
        if kind in _FIXED:
            s = _FIXED[kind]
            return s.unpack(self.take(s.size))[0]
        if kind == "bool":
            return self.take(1)[0] != 0
        if kind == "uuid":
            return uuid.UUID(bytes=bytes(self.take(16)))
        if kind == "string":
            n = self.length(flexible, wide=False)
            return None if n < 0 else bytes(self.take(n)).decode(errors="replace")
        if kind in ("bytes", "records"):
            n = self.length(flexible, wide=True)
            return None if n < 0 else bytes(self.take(n))
        raise TypeError(f"unknown field type {kind!r}")

    def skip_tags(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def decode(fields: Sequence[Field], version: int, flexible: bool, reader: Reader) -> Message:
    out: Message = {}
    for f in fields:
        if not f.present(version):
            out[f.name] = f.default
            continue
        if f.array:
            n = reader.length(flexible, wide=True)
            if n > len(reader.data):
                raise ProtocolError(f"{f.name}: array of {n} items is longer than the frame")
            if n < 0 and not f.is_nullable(version):
                raise ProtocolError(f"{f.name}: null array where v{version} allows none")
            out[f.name] = (
                None if n < 0 else [_decode_value(f, version, flexible, reader) for _ in range(n)]
            )
        else:
            out[f.name] = _decode_value(f, version, flexible, reader)
    if flexible:
        reader.skip_tags()
    return out


def _decode_value(f: Field, version: int, flexible: bool, reader: Reader) -> Any:
    if isinstance(f.type, tuple):
        return decode(f.type, version, flexible, reader)
    value = reader.primitive(f.type, flexible)
    if value is None and not f.array and f.type != "records" and not f.is_nullable(version):
        raise ProtocolError(f"{f.name}: null where v{version} allows none")
    return value
