"""Binary primitives of the runtime's encodings: a byte writer and a bounds-checked reader.

Everything the runtime puts on a socket or on disk (:mod:`archlab.runtime.codec`,
:mod:`archlab.runtime.filestore`) is built from these: fixed-width little-endian integers,
length-prefixed byte strings and UTF-8 strings, and a tagged JSON scalar (the client
interface's ``Value``). No pickle, no reflection: a reader only ever builds ints, floats,
bools, strings, bytes and ``None``, and every read checks that the bytes are there, so a
truncated or hostile buffer raises :class:`DecodeError` instead of producing a wrong value.
"""

from __future__ import annotations

import struct

from archlab.consensus.client import Value

_U8 = struct.Struct("<B")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_F64 = struct.Struct("<d")

# Tags of a scalar value.
_NONE, _FALSE, _TRUE, _INT, _FLOAT, _STR, _BIGINT = range(7)
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


class DecodeError(ValueError):
    """Bytes that are not a valid encoding (truncated, unknown tag, bad UTF-8, trailing data)."""


class Writer:
    """Appends encoded fields to a growing buffer; :meth:`getvalue` returns the bytes."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, value: int) -> None:
        self._parts.append(_U8.pack(value))

    def u32(self, value: int) -> None:
        self._parts.append(_U32.pack(value))

    def u64(self, value: int) -> None:
        self._parts.append(_U64.pack(value))

    def raw(self, data: bytes) -> None:
        self._parts.append(data)

    def blob(self, data: bytes) -> None:
        """A byte string, length first."""
        self._parts.append(_U32.pack(len(data)))
        self._parts.append(data)

    def text(self, value: str) -> None:
        self.blob(value.encode("utf-8"))

    def opt_id(self, value: int | None) -> None:
        """A positive id or ``None`` (encoded as 0: node ids are positive)."""
        self.u64(0 if value is None else value)

    def value(self, value: Value) -> None:
        """A JSON scalar: ``None``, bool, int (any size), float or str."""
        if value is None:
            self.u8(_NONE)
        elif value is True:
            self.u8(_TRUE)
        elif value is False:
            self.u8(_FALSE)
        elif isinstance(value, int):
            if _I64_MIN <= value <= _I64_MAX:
                self.u8(_INT)
                self._parts.append(_I64.pack(value))
            else:
                self.u8(_BIGINT)
                self.text(str(value))
        elif isinstance(value, float):
            self.u8(_FLOAT)
            self._parts.append(_F64.pack(value))
        elif isinstance(value, str):
            self.u8(_STR)
            self.text(value)
        else:
            raise TypeError(f"not a JSON scalar: {value!r}")

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Reads fields back in the order a :class:`Writer` wrote them."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes | memoryview, pos: int = 0) -> None:
        self._data = bytes(data) if isinstance(data, memoryview) else data
        self._pos = pos

    @property
    def pos(self) -> int:
        return self._pos

    def _need(self, size: int) -> int:
        start = self._pos
        end = start + size
        if end > len(self._data):
            raise DecodeError(f"truncated: needed {size} bytes at offset {start}")
        self._pos = end
        return start

    def u8(self) -> int:
        return int(_U8.unpack_from(self._data, self._need(1))[0])

    def u32(self) -> int:
        return int(_U32.unpack_from(self._data, self._need(4))[0])

    def u64(self) -> int:
        return int(_U64.unpack_from(self._data, self._need(8))[0])

    def raw(self, size: int) -> bytes:
        start = self._need(size)
        return self._data[start : start + size]

    def blob(self) -> bytes:
        return self.raw(self.u32())

    def text(self) -> str:
        try:
            return self.blob().decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(f"bad UTF-8 before offset {self._pos}") from None

    def bool(self) -> bool:
        flag = self.u8()
        if flag > 1:
            raise DecodeError(f"boolean byte {flag} at offset {self._pos - 1}")
        return flag == 1

    def opt_id(self) -> int | None:
        value = self.u64()
        return None if value == 0 else value

    def value(self) -> Value:  # noqa: PLR0911 - one return per tag of the wire format
        tag = self.u8()
        if tag == _NONE:
            return None
        if tag == _TRUE:
            return True
        if tag == _FALSE:
            return False
        if tag == _INT:
            return int(_I64.unpack_from(self._data, self._need(8))[0])
        if tag == _FLOAT:
            return float(_F64.unpack_from(self._data, self._need(8))[0])
        if tag == _STR:
            return self.text()
        if tag == _BIGINT:
            digits = self.text()
            try:
                return int(digits)
            except ValueError:
                raise DecodeError(f"bad integer {digits[:20]!r}") from None
        raise DecodeError(f"unknown value tag {tag} at offset {self._pos - 1}")

    def end(self) -> None:
        """Assert that every byte was consumed."""
        if self._pos != len(self._data):
            raise DecodeError(f"{len(self._data) - self._pos} trailing bytes at offset {self._pos}")
