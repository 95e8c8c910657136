"""The wire codec: Raft messages, entries, snapshots and client envelopes as versioned bytes.

Every frame body (see :mod:`archlab.runtime.framing` for the length prefix) is::

    version u8 (= WIRE_VERSION) | kind u8 | fields of that kind

Fields are the primitives of :mod:`archlab.runtime.wire` (little-endian integers,
length-prefixed bytes and strings, tagged JSON scalars). A node id or vote that may be ``None``
is 0 on the wire (ids are positive). A decoder refuses an unknown version or kind, a truncated
body, trailing bytes and invalid field values with :class:`~archlab.runtime.wire.DecodeError`;
it never evaluates anything (no pickle), so a peer or a file can at worst be rejected.

What travels:

- the nine Raft messages of :mod:`archlab.consensus.raft.messages` (with their entries and
  snapshots); Multi-Paxos's and Zab's messages in one generic kind
  (:mod:`archlab.runtime.structcodec`);
- :class:`Hello`, the first frame on every connection (a peer says which node it is; a client
  says it is a client);
- the client interface's :class:`~archlab.consensus.client.ClientRequest` and
  :class:`~archlab.consensus.client.ClientResponse` (the payload travels in its canonical
  encoding, :func:`~archlab.consensus.client.encode_payload`, so the bytes a client sends are
  the bytes Raft replicates);
- :class:`StatusRequest` / :class:`StatusReply` for ``archlab cluster status``.

:func:`encode_snapshot` / :func:`decode_snapshot` are also the on-disk encoding of the snapshot
file (:mod:`archlab.runtime.filestore`). The frames every commit sends (AppendEntries and its
response, client requests and responses) have hand-written fast paths at the end of the module;
they produce and accept exactly the bytes of the generic path (the tests compare the two).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from archlab.consensus.client import (
    ClientRequest,
    ClientResponse,
    MalformedPayloadError,
    Outcome,
    Reply,
    Value,
    decode_payload,
    encode_payload,
)
from archlab.consensus.paxos.messages import Message as PaxosMessage
from archlab.consensus.raft.messages import (
    AppendEntries,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    Message,
    ReadIndexRequest,
    ReadIndexResponse,
    VoteRequest,
    VoteResponse,
)
from archlab.consensus.raft.types import ConfState, Entry, EntryKind, Snapshot, SnapshotMetadata
from archlab.consensus.zab.messages import Message as ZabMessage
from archlab.runtime import structcodec
from archlab.runtime.wire import DecodeError, Reader, Writer

WIRE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Hello:
    """First frame of a connection: ``role`` ``peer`` (with its node id) or ``client``."""

    role: Literal["peer", "client"]
    node: int | None = None


@dataclass(frozen=True, slots=True)
class StatusRequest:
    request_id: int


@dataclass(frozen=True, slots=True)
class StatusReply:
    """A node's view of itself: role, term, leader, commit and applied index ..."""

    request_id: int
    fields: tuple[tuple[str, Value], ...]

    def as_dict(self) -> dict[str, Value]:
        return dict(self.fields)


Frame: TypeAlias = (
    Message
    | PaxosMessage
    | ZabMessage
    | Hello
    | ClientRequest
    | ClientResponse
    | StatusRequest
    | StatusReply
)

# Kinds (one byte after the version).
_VOTE_REQ, _VOTE_RESP, _APPEND, _APPEND_RESP, _HEARTBEAT, _HEARTBEAT_RESP = range(1, 7)
_SNAPSHOT, _READ_REQ, _READ_RESP = range(7, 10)
_HELLO, _CLIENT_REQ, _CLIENT_RESP, _STATUS_REQ, _STATUS_REPLY = range(20, 25)
#: A Multi-Paxos or Zab message, in :mod:`archlab.runtime.structcodec`'s encoding.
_CONSENSUS = 30

_ENTRY_HEAD = struct.Struct("<QQBI")  # term, index, kind, data length
_KINDS = (EntryKind.NORMAL, EntryKind.CONFIG)
_KIND_CODE = {EntryKind.NORMAL: 0, EntryKind.CONFIG: 1}
_OUTCOMES: tuple[Outcome, ...] = ("ok", "fail", "info")
_ROLES = ("peer", "client")


# -- entries and snapshots -------------------------------------------------------------------


def _write_entry(w: Writer, entry: Entry) -> None:
    w.raw(_ENTRY_HEAD.pack(entry.term, entry.index, _KIND_CODE[entry.kind], len(entry.data)))
    w.raw(entry.data)


def _read_entry(r: Reader) -> Entry:
    head = r.raw(_ENTRY_HEAD.size)
    term, index, kind, size = _ENTRY_HEAD.unpack(head)
    if kind >= len(_KINDS):
        raise DecodeError(f"unknown entry kind {kind}")
    return Entry(term, index, r.raw(size), _KINDS[kind])


def encode_entry(entry: Entry) -> bytes:
    w = Writer()
    _write_entry(w, entry)
    return w.getvalue()


def decode_entry(data: bytes) -> Entry:
    r = Reader(data)
    entry = _read_entry(r)
    r.end()
    return entry


def _write_conf(w: Writer, conf: ConfState) -> None:
    for group in (conf.voters, conf.learners):
        w.u32(len(group))
        for node in sorted(group):
            w.u64(node)


def _read_conf(r: Reader) -> ConfState:
    groups = []
    for _ in range(2):
        count = r.u32()
        groups.append(frozenset(r.u64() for _ in range(count)))
    return ConfState(groups[0], groups[1])


def _write_snapshot(w: Writer, snapshot: Snapshot) -> None:
    w.u64(snapshot.metadata.index)
    w.u64(snapshot.metadata.term)
    _write_conf(w, snapshot.metadata.conf)
    w.blob(snapshot.data)


def _read_snapshot(r: Reader) -> Snapshot:
    index, term = r.u64(), r.u64()
    conf = _read_conf(r)
    return Snapshot(SnapshotMetadata(index, term, conf), r.blob())


def encode_snapshot(snapshot: Snapshot) -> bytes:
    w = Writer()
    _write_snapshot(w, snapshot)
    return w.getvalue()


def decode_snapshot(data: bytes) -> Snapshot:
    r = Reader(data)
    snapshot = _read_snapshot(r)
    r.end()
    return snapshot


# -- frames ----------------------------------------------------------------------------------


def _write_client(w: Writer, client: int | str) -> None:
    if isinstance(client, int):
        w.u8(0)
        w.value(client)
    else:
        w.u8(1)
        w.text(client)


def _read_client(r: Reader) -> int | str:
    tag = r.u8()
    if tag == 0:
        value = r.value()
        if isinstance(value, bool) or not isinstance(value, int):
            raise DecodeError(f"client id {value!r} is not an integer")
        return value
    if tag == 1:
        return r.text()
    raise DecodeError(f"unknown client id tag {tag}")


def _write_reply(w: Writer, reply: Reply) -> None:
    w.u8(_OUTCOMES.index(reply.outcome))
    w.value(reply.value)
    w.u8(reply.error is not None)
    if reply.error is not None:
        w.text(reply.error)
    w.opt_id(reply.leader)


def _read_reply(r: Reader) -> Reply:
    code = r.u8()
    if code >= len(_OUTCOMES):
        raise DecodeError(f"unknown outcome {code}")
    value = r.value()
    error = r.text() if r.bool() else None
    return Reply(_OUTCOMES[code], value, error, r.opt_id())


def encode_frame(frame: Frame) -> bytes:
    """The body of one frame (no length prefix)."""
    fast = _FAST_ENCODERS.get(type(frame))
    if fast is not None:
        return fast(frame)
    if type(frame) in structcodec.MESSAGES:
        return bytes([WIRE_VERSION, _CONSENSUS]) + structcodec.encode(frame)
    return _encode_generic(frame)


def _encode_generic(frame: Frame) -> bytes:  # noqa: PLR0912, PLR0915 - one branch per field type of the wire format
    w = Writer()
    w.u8(WIRE_VERSION)
    if isinstance(frame, AppendEntries):  # the hot path first
        w.u8(_APPEND)
        w.raw(
            struct.pack(
                "<QQQQQQI",
                frame.src,
                frame.dst,
                frame.term,
                frame.prev_index,
                frame.prev_term,
                frame.commit,
                len(frame.entries),
            )
        )
        for entry in frame.entries:
            _write_entry(w, entry)
    elif isinstance(frame, AppendResponse):
        w.u8(_APPEND_RESP)
        w.raw(
            struct.pack(
                "<QQQQBQQ",
                frame.src,
                frame.dst,
                frame.term,
                frame.index,
                frame.reject | frame.recovering << 1,
                frame.hint_index,
                frame.hint_term,
            )
        )
    elif isinstance(frame, VoteRequest):
        w.u8(_VOTE_REQ)
        w.raw(
            struct.pack(
                "<QQQQQB",
                frame.src,
                frame.dst,
                frame.term,
                frame.last_index,
                frame.last_term,
                frame.pre_vote,
            )
        )
    elif isinstance(frame, VoteResponse):
        w.u8(_VOTE_RESP)
        w.raw(
            struct.pack("<QQQBB", frame.src, frame.dst, frame.term, frame.granted, frame.pre_vote)
        )
    elif isinstance(frame, Heartbeat):
        w.u8(_HEARTBEAT)
        w.raw(struct.pack("<QQQQQ", frame.src, frame.dst, frame.term, frame.commit, frame.round))
    elif isinstance(frame, HeartbeatResponse):
        w.u8(_HEARTBEAT_RESP)
        w.raw(
            struct.pack("<QQQQB", frame.src, frame.dst, frame.term, frame.round, frame.recovering)
        )
    elif isinstance(frame, InstallSnapshot):
        w.u8(_SNAPSHOT)
        w.raw(struct.pack("<QQQ", frame.src, frame.dst, frame.term))
        _write_snapshot(w, frame.snapshot)
    elif isinstance(frame, ReadIndexRequest):
        w.u8(_READ_REQ)
        w.raw(struct.pack("<QQQ", frame.src, frame.dst, frame.term))
        w.blob(frame.context)
    elif isinstance(frame, ReadIndexResponse):
        w.u8(_READ_RESP)
        w.raw(struct.pack("<QQQ", frame.src, frame.dst, frame.term))
        w.blob(frame.context)
        w.u64(frame.index)
    elif isinstance(frame, Hello):
        w.u8(_HELLO)
        w.u8(_ROLES.index(frame.role))
        w.opt_id(frame.node)
    elif isinstance(frame, ClientRequest):
        w.u8(_CLIENT_REQ)
        _write_client(w, frame.client)
        w.u64(frame.request_id)
        w.blob(encode_payload(frame.payload))
    elif isinstance(frame, ClientResponse):
        w.u8(_CLIENT_RESP)
        w.u64(frame.request_id)
        _write_reply(w, frame.reply)
    elif isinstance(frame, StatusRequest):
        w.u8(_STATUS_REQ)
        w.u64(frame.request_id)
    elif isinstance(frame, StatusReply):
        w.u8(_STATUS_REPLY)
        w.u64(frame.request_id)
        w.u32(len(frame.fields))
        for name, value in frame.fields:
            w.text(name)
            w.value(value)
    else:
        raise TypeError(f"cannot encode {type(frame).__name__}")
    return w.getvalue()


def decode_frame(body: bytes) -> Frame:
    """Inverse of :func:`encode_frame`; raises :class:`DecodeError` for anything invalid."""
    if len(body) >= 2 and body[0] == WIRE_VERSION:
        fast = _FAST_DECODERS.get(body[1])
        if fast is not None:
            try:
                return fast(body)
            except (struct.error, IndexError):
                raise DecodeError(f"truncated frame of kind {body[1]}") from None
        if body[1] == _CONSENSUS:
            message = structcodec.decode(body, 2)
            if type(message) not in structcodec.MESSAGES:
                raise DecodeError(f"a {type(message).__name__} is not a message")
            return message  # type: ignore[no-any-return]
    r = Reader(body)
    version = r.u8()
    if version != WIRE_VERSION:
        raise DecodeError(f"unsupported wire version {version} (this node speaks {WIRE_VERSION})")
    kind = r.u8()
    frame = _decode_kind(kind, r)
    r.end()
    return frame


def _append_response(
    src: int, dst: int, term: int, index: int, flags: int, hint_index: int, hint_term: int
) -> AppendResponse:
    """Bit 0 of ``flags``: rejected; bit 1: the sender is recovering a lost disk."""
    if flags > 3:
        raise DecodeError(f"append response flags {flags}")
    return AppendResponse(
        src, dst, term, index, bool(flags & 1), hint_index, hint_term, bool(flags & 2)
    )


def _ids(r: Reader, fmt: str) -> tuple[int, ...]:
    size = struct.calcsize(fmt)
    return tuple(struct.unpack(fmt, r.raw(size)))


def _flag(value: int) -> bool:
    if value > 1:
        raise DecodeError(f"boolean byte {value}")
    return value == 1


def _decode_kind(kind: int, r: Reader) -> Frame:  # noqa: PLR0911, PLR0912 - one branch and return per frame kind of the wire format
    if kind == _APPEND:
        src, dst, term, prev_index, prev_term, commit, count = _ids(r, "<QQQQQQI")
        entries = tuple(_read_entry(r) for _ in range(count))
        return AppendEntries(src, dst, term, prev_index, prev_term, entries, commit)
    if kind == _APPEND_RESP:
        src, dst, term, index, flags, hint_index, hint_term = _ids(r, "<QQQQBQQ")
        return _append_response(src, dst, term, index, flags, hint_index, hint_term)
    if kind == _VOTE_REQ:
        src, dst, term, last_index, last_term, pre = _ids(r, "<QQQQQB")
        return VoteRequest(src, dst, term, last_index, last_term, _flag(pre))
    if kind == _VOTE_RESP:
        src, dst, term, granted, pre = _ids(r, "<QQQBB")
        return VoteResponse(src, dst, term, _flag(granted), _flag(pre))
    if kind == _HEARTBEAT:
        return Heartbeat(*_ids(r, "<QQQQQ"))
    if kind == _HEARTBEAT_RESP:
        src, dst, term, round_, recovering = _ids(r, "<QQQQB")
        return HeartbeatResponse(src, dst, term, round_, _flag(recovering))
    if kind == _SNAPSHOT:
        src, dst, term = _ids(r, "<QQQ")
        return InstallSnapshot(src, dst, term, _read_snapshot(r))
    if kind == _READ_REQ:
        src, dst, term = _ids(r, "<QQQ")
        return ReadIndexRequest(src, dst, term, r.blob())
    if kind == _READ_RESP:
        src, dst, term = _ids(r, "<QQQ")
        return ReadIndexResponse(src, dst, term, r.blob(), r.u64())
    if kind == _HELLO:
        role = r.u8()
        if role >= len(_ROLES):
            raise DecodeError(f"unknown hello role {role}")
        return Hello(_ROLES[role], r.opt_id())  # type: ignore[arg-type]
    if kind == _CLIENT_REQ:
        client = _read_client(r)
        request_id = r.u64()
        data = r.blob()
        try:
            payload = decode_payload(data)
        except MalformedPayloadError as exc:
            raise DecodeError(f"client payload: {exc}") from None
        return ClientRequest(client, request_id, payload, data)
    if kind == _CLIENT_RESP:
        return ClientResponse(r.u64(), _read_reply(r))
    if kind == _STATUS_REQ:
        return StatusRequest(r.u64())
    if kind == _STATUS_REPLY:
        request_id = r.u64()
        count = r.u32()
        fields = tuple((r.text(), r.value()) for _ in range(count))
        return StatusReply(request_id, fields)
    raise DecodeError(f"unknown frame kind {kind}")


# -- fast paths for the frames every commit sends (same bytes as the generic path) -----------

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_APPEND_HEAD = struct.Struct("<QQQQQQI")
_APPEND_RESP_BODY = struct.Struct("<QQQQBQQ")
_RESPONSE_HEAD = struct.Struct("<QB")  # request id, outcome
_INT_VALUE = struct.Struct("<Bq")
_V_NONE, _V_INT, _V_STR = b"\x00", 3, 5
_OUTCOME_CODE = {name: code for code, name in enumerate(_OUTCOMES)}


def _value_bytes(value: Value) -> bytes:
    if value is None:
        return _V_NONE
    if type(value) is int and -(2**63) <= value < 2**63:
        return _INT_VALUE.pack(_V_INT, value)
    if type(value) is str:
        data = value.encode("utf-8")
        return bytes([_V_STR]) + _U32.pack(len(data)) + data
    w = Writer()
    w.value(value)
    return w.getvalue()


def _fast_append(frame: Any) -> bytes:
    parts = [
        bytes([WIRE_VERSION, _APPEND]),
        _APPEND_HEAD.pack(
            frame.src,
            frame.dst,
            frame.term,
            frame.prev_index,
            frame.prev_term,
            frame.commit,
            len(frame.entries),
        ),
    ]
    pack = _ENTRY_HEAD.pack
    codes = _KIND_CODE
    for e in frame.entries:
        parts.append(pack(e.term, e.index, codes[e.kind], len(e.data)))
        parts.append(e.data)
    return b"".join(parts)


def _fast_append_response(frame: Any) -> bytes:
    return bytes([WIRE_VERSION, _APPEND_RESP]) + _APPEND_RESP_BODY.pack(
        frame.src,
        frame.dst,
        frame.term,
        frame.index,
        frame.reject | frame.recovering << 1,
        frame.hint_index,
        frame.hint_term,
    )


def _fast_client_request(frame: Any) -> bytes:
    client = frame.client
    if type(client) is int and -(2**63) <= client < 2**63:
        who = b"\x00" + _INT_VALUE.pack(_V_INT, client)
    else:
        return _encode_generic(frame)
    payload = encode_payload(frame.payload)
    return b"".join(
        (
            bytes([WIRE_VERSION, _CLIENT_REQ]),
            who,
            _U64.pack(frame.request_id),
            _U32.pack(len(payload)),
            payload,
        )
    )


def _fast_client_response(frame: Any) -> bytes:
    reply = frame.reply
    error = reply.error
    tail = b"\x00" if error is None else b"\x01" + _U32.pack(len(e := error.encode())) + e
    return b"".join(
        (
            bytes([WIRE_VERSION, _CLIENT_RESP]),
            _RESPONSE_HEAD.pack(frame.request_id, _OUTCOME_CODE[reply.outcome]),
            _value_bytes(reply.value),
            tail,
            _U64.pack(reply.leader or 0),
        )
    )


def _decode_append(body: bytes) -> Frame:
    src, dst, term, prev_index, prev_term, commit, count = _APPEND_HEAD.unpack_from(body, 2)
    pos = 2 + _APPEND_HEAD.size
    unpack = _ENTRY_HEAD.unpack_from
    head = _ENTRY_HEAD.size
    kinds = _KINDS
    entries = []
    for _ in range(count):
        term_, index, kind, size = unpack(body, pos)
        pos += head
        end = pos + size
        if end > len(body) or kind >= len(kinds):
            raise DecodeError(f"bad entry at offset {pos}")
        entries.append(Entry(term_, index, body[pos:end], kinds[kind]))
        pos = end
    if pos != len(body):
        raise DecodeError(f"{len(body) - pos} trailing bytes at offset {pos}")
    return AppendEntries(src, dst, term, prev_index, prev_term, tuple(entries), commit)


def _decode_append_response(body: bytes) -> Frame:
    expected = 2 + _APPEND_RESP_BODY.size
    if len(body) > expected:
        raise DecodeError(f"{len(body) - expected} trailing bytes at offset {expected}")
    src, dst, term, index, flags, hint_index, hint_term = _APPEND_RESP_BODY.unpack_from(body, 2)
    return _append_response(src, dst, term, index, flags, hint_index, hint_term)


_REQUEST_HEAD = struct.Struct("<BBqQI")  # client tag, value tag, client id, request id, length


def _decode_client_request(body: bytes) -> Frame:
    if body[2] != 0 or body[3] != _V_INT:
        r = Reader(body, 2)
        frame = _decode_kind(_CLIENT_REQ, r)
        r.end()
        return frame
    _, _, client, request_id, size = _REQUEST_HEAD.unpack_from(body, 2)
    start = 2 + _REQUEST_HEAD.size
    end = start + size
    if end > len(body):
        raise DecodeError(f"truncated: client payload of {size} bytes at offset {start}")
    if end < len(body):
        raise DecodeError(f"{len(body) - end} trailing bytes at offset {end}")
    data = body[start:]
    try:
        payload = decode_payload(data)
    except MalformedPayloadError as exc:
        raise DecodeError(f"client payload: {exc}") from None
    return ClientRequest(client, request_id, payload, data)


def _decode_client_response(body: bytes) -> Frame:
    request_id, code = _RESPONSE_HEAD.unpack_from(body, 2)
    if code >= len(_OUTCOMES):
        raise DecodeError(f"unknown outcome {code}")
    r = Reader(body, 2 + _RESPONSE_HEAD.size)
    value = r.value()
    error = r.text() if r.bool() else None
    leader = r.opt_id()
    r.end()
    return ClientResponse(request_id, Reply(_OUTCOMES[code], value, error, leader))


_FAST_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    AppendEntries: _fast_append,
    AppendResponse: _fast_append_response,
    ClientRequest: _fast_client_request,
    ClientResponse: _fast_client_response,
}
_FAST_DECODERS: dict[int, Callable[[bytes], Frame]] = {
    _APPEND: _decode_append,
    _APPEND_RESP: _decode_append_response,
    _CLIENT_REQ: _decode_client_request,
    _CLIENT_RESP: _decode_client_response,
}
