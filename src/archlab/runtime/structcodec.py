"""Multi-Paxos and Zab messages on the wire: a structural codec for frozen dataclasses (codex 5.3).

Raft's messages have hand-written layouts (:mod:`archlab.runtime.codec`); the other two
protocols' messages travel through this one generic encoding, which walks a message's fields:

    value := NONE | FALSE | TRUE | INT i64 | BYTES u32 data | STR u32 utf8
           | TUPLE u32 value* | RECORD u16 class value* | ENUM u16 class value

``class`` numbers index a fixed list of the message, value and enum classes (the order of
:data:`CLASSES` is the wire format: append, never reorder). Decoding builds the registered class
from its fields and nothing else: an unknown class number or tag, a truncated body, trailing
bytes, a record with the wrong number of fields or an enum value that does not exist raises
:class:`~archlab.runtime.wire.DecodeError`. Nothing is evaluated (no pickle).
"""

from __future__ import annotations

import struct
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any

from archlab.consensus.paxos import messages as paxos_messages, types as paxos_types
from archlab.consensus.zab import messages as zab_messages, types as zab_types
from archlab.runtime.wire import DecodeError

_NONE, _FALSE, _TRUE, _INT, _BYTES, _STR, _TUPLE, _RECORD, _ENUM = range(9)
_I64 = struct.Struct("<q")
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")

#: Every class that may travel; the position is the class number on the wire.
CLASSES: tuple[type, ...] = (
    paxos_types.Ballot,
    paxos_types.Slot,
    paxos_types.Chosen,
    paxos_types.Snapshot,
    paxos_messages.Probe,
    paxos_messages.ProbeReply,
    paxos_messages.Prepare,
    paxos_messages.Promise,
    paxos_messages.Reject,
    paxos_messages.Accept,
    paxos_messages.Accepted,
    paxos_messages.Learned,
    paxos_messages.Learn,
    paxos_messages.InstallSnapshot,
    zab_types.Zxid,
    zab_types.Txn,
    zab_types.Snapshot,
    zab_types.Vote,
    zab_types.ServerState,
    zab_messages.Notification,
    zab_messages.FollowerInfo,
    zab_messages.NewEpoch,
    zab_messages.AckEpoch,
    zab_messages.NewLeader,
    zab_messages.Proposal,
    zab_messages.Ack,
    zab_messages.Commit,
    zab_messages.Ping,
)
_CODES = {cls: code for code, cls in enumerate(CLASSES)}
_FIELDS = {cls: tuple(f.name for f in fields(cls)) for cls in CLASSES if is_dataclass(cls)}
#: The message classes (what :func:`archlab.runtime.codec.encode_frame` sends this way).
MESSAGES: frozenset[type] = frozenset(
    cls for cls in CLASSES if cls.__module__ in (paxos_messages.__name__, zab_messages.__name__)
)


def encode(value: Any) -> bytes:
    out = bytearray()
    _put(out, value)
    return bytes(out)


def _put(out: bytearray, value: Any) -> None:
    kind = type(value)
    if value is None:
        out.append(_NONE)
    elif kind is bool:
        out.append(_TRUE if value else _FALSE)
    elif kind is int:
        out.append(_INT)
        out += _I64.pack(value)
    elif kind is bytes:
        out.append(_BYTES)
        out += _U32.pack(len(value))
        out += value
    elif kind is str:
        data = value.encode("utf-8")
        out.append(_STR)
        out += _U32.pack(len(data))
        out += data
    elif kind is tuple or kind is list:
        out.append(_TUPLE)
        out += _U32.pack(len(value))
        for item in value:
            _put(out, item)
    elif kind in _FIELDS:
        out.append(_RECORD)
        out += _U16.pack(_CODES[kind])
        for name in _FIELDS[kind]:
            _put(out, getattr(value, name))
    elif isinstance(value, Enum) and kind in _CODES:
        out.append(_ENUM)
        out += _U16.pack(_CODES[kind])
        _put(out, value.value)
    else:
        raise TypeError(f"cannot encode a {kind.__name__} on the consensus wire")


def decode(data: bytes, offset: int = 0) -> Any:
    """The value encoded in ``data[offset:]`` (which it must use up exactly)."""
    try:
        value, end = _get(data, offset)
    except (struct.error, IndexError):
        raise DecodeError(f"truncated consensus message at offset {offset}") from None
    if end != len(data):
        raise DecodeError(f"{len(data) - end} trailing bytes at offset {end}")
    return value


def _get(data: bytes, pos: int) -> tuple[Any, int]:  # noqa: PLR0911 - one return per tag
    tag = data[pos]
    pos += 1
    if tag == _NONE:
        return None, pos
    if tag in (_FALSE, _TRUE):
        return tag == _TRUE, pos
    if tag == _INT:
        return _I64.unpack_from(data, pos)[0], pos + 8
    if tag in (_BYTES, _STR):
        (size,) = _U32.unpack_from(data, pos)
        start, end = pos + 4, pos + 4 + size
        if end > len(data):
            raise DecodeError(f"truncated field of {size} bytes at offset {start}")
        raw = bytes(data[start:end])
        if tag == _BYTES:
            return raw, end
        try:
            return raw.decode("utf-8"), end
        except UnicodeDecodeError:
            raise DecodeError(f"invalid UTF-8 at offset {start}") from None
    if tag == _TUPLE:
        (count,) = _U32.unpack_from(data, pos)
        pos += 4
        items = []
        for _ in range(count):
            item, pos = _get(data, pos)
            items.append(item)
        return tuple(items), pos
    if tag in (_RECORD, _ENUM):
        return _get_class(data, pos, tag)
    raise DecodeError(f"unknown consensus value tag {tag} at offset {pos - 1}")


def _get_class(data: bytes, pos: int, tag: int) -> tuple[Any, int]:
    (code,) = _U16.unpack_from(data, pos)
    pos += 2
    if code >= len(CLASSES):
        raise DecodeError(f"unknown consensus class {code}")
    cls = CLASSES[code]
    if tag == _ENUM:
        value, pos = _get(data, pos)
        if not issubclass(cls, Enum):
            raise DecodeError(f"class {code} is not an enum")
        try:
            return cls(value), pos
        except ValueError:
            raise DecodeError(f"{value!r} is not a {cls.__name__}") from None
    names = _FIELDS.get(cls)
    if names is None:
        raise DecodeError(f"class {code} is not a record")
    args = []
    for _ in names:
        value, pos = _get(data, pos)
        args.append(value)
    return cls(*args), pos
