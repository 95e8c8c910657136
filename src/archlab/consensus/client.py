"""The client interface every consensus protocol shares (codex 5.3): operations, sessions, replies.

Raft, Multi-Paxos and Zab all order the same opaque byte strings; this module defines what
those bytes mean, so one workload, one state machine (:mod:`archlab.consensus.kv`) and one
history format serve all three.

- Operations on a key-value map with string keys and JSON scalar values: :class:`Read`,
  :class:`Write` and :class:`Cas` (compare-and-set; a failed compare is the ``fail`` outcome,
  as etcd reports it and as the ``kv`` linearizability model expects).
- Sessions (the Raft dissertation's §6.3 scheme): a client first commits :class:`OpenSession`;
  the state machine answers with a session id (the log position of that command, so every
  replica agrees on it). Every later :class:`Command` carries ``(session, seq)``; a client keeps
  at most one command outstanding and retries it with the same ``seq`` until it gets a reply, so
  a command that commits twice is applied once and the second commit returns the cached reply.
- :class:`Reply` carries the outcome in the history's vocabulary (``ok``, ``fail``, ``info``),
  the value, and, when a server refuses because it is not the leader, its leader hint.
- :class:`ClientRequest` / :class:`ClientResponse` are the envelopes a client exchanges with a
  server in the simulator and over the runtime's sockets.

Encoding is canonical compact JSON (a short tagged list), deterministic byte for byte:
``encode_payload(decode_payload(b)) == b`` for every valid ``b``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

#: A stored value: a JSON scalar. Keys are strings.
Value: TypeAlias = bool | int | float | str | None
#: Outcomes, named as in the history format: took effect / certainly did not / unknown.
Outcome: TypeAlias = Literal["ok", "fail", "info"]


@dataclass(frozen=True, slots=True)
class Read:
    """Return the value of ``key`` (``None`` when absent)."""

    key: str


@dataclass(frozen=True, slots=True)
class Write:
    """Set ``key`` to ``value``."""

    key: str
    value: Value


@dataclass(frozen=True, slots=True)
class Cas:
    """Set ``key`` to ``new`` if its value is ``expected``; otherwise fail and change nothing."""

    key: str
    expected: Value
    new: Value


KVOperation: TypeAlias = Read | Write | Cas


@dataclass(frozen=True, slots=True)
class OpenSession:
    """Register a client session; the reply's value is the new session id."""


@dataclass(frozen=True, slots=True)
class Command:
    """One client operation inside a session: ``seq`` grows by one per new command."""

    session: int
    seq: int
    op: KVOperation


Payload: TypeAlias = Command | OpenSession


@dataclass(frozen=True, slots=True)
class Reply:
    """What the state machine (or a server refusing a request) answers.

    ``error`` names why an outcome is not ``ok`` when it is not a plain failed compare:
    ``not-leader`` (``leader`` is the hint, possibly ``None``), ``session-expired``,
    ``stale-sequence``, ``malformed``, ``timeout``.
    """

    outcome: Outcome
    value: Value = None
    error: str | None = None
    leader: int | None = None


@dataclass(frozen=True, slots=True)
class ClientRequest:
    """A request from client ``client`` (an address the server answers to)."""

    client: int | str
    request_id: int
    payload: Payload
    #: The payload's bytes as they arrived, when a transport decoded them (a server proposes
    #: them as they are instead of encoding the payload again); not part of the value.
    data: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ClientResponse:
    """The answer to the request ``request_id`` of the client it is addressed to."""

    request_id: int
    reply: Reply


class MalformedPayloadError(ValueError):
    """Bytes that are not a valid encoded payload (every replica rejects them alike)."""


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def encode_payload(payload: Payload) -> bytes:
    """Canonical bytes for a payload (what a protocol core replicates)."""
    body: list[Any]
    if isinstance(payload, OpenSession):
        body = ["open"]
    else:
        op = payload.op
        head: list[Any] = [payload.session, payload.seq, op.key]
        if isinstance(op, Read):
            body = ["r", *head]
        elif isinstance(op, Write):
            body = ["w", *head, op.value]
        else:
            body = ["c", *head, op.expected, op.new]
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def decode_payload(data: bytes) -> Payload:
    """Inverse of :func:`encode_payload`; raises :class:`MalformedPayloadError`."""
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedPayloadError(f"not JSON: {data[:40]!r}") from None
    if not isinstance(body, list) or not body or not isinstance(body[0], str):
        raise MalformedPayloadError(f"expected a tagged list, got {data[:40]!r}")
    tag, args = body[0], body[1:]
    if tag == "open" and not args:
        return OpenSession()
    arity = {"r": 3, "w": 4, "c": 5}.get(tag)
    if arity is None or len(args) != arity:
        raise MalformedPayloadError(f"unknown tag or arity: {data[:40]!r}")
    session, seq, key = args[0], args[1], args[2]
    if (
        isinstance(session, bool)
        or not isinstance(session, int)
        or isinstance(seq, bool)
        or not isinstance(seq, int)
        or not isinstance(key, str)
        or not all(_scalar(v) for v in args[3:])
    ):
        raise MalformedPayloadError(f"bad field types: {data[:40]!r}")
    op: KVOperation
    if tag == "r":
        op = Read(key)
    elif tag == "w":
        op = Write(key, args[3])
    else:
        op = Cas(key, args[3], args[4])
    return Command(session, seq, op)


def history_invocation(op: KVOperation) -> tuple[str, str, Any]:
    """``(f, key, value)`` of the history ``invoke`` event for ``op`` (the ``kv`` model)."""
    if isinstance(op, Read):
        return "read", op.key, None
    if isinstance(op, Write):
        return "write", op.key, op.value
    return "cas", op.key, [op.expected, op.new]


def history_completion(op: KVOperation, reply: Reply) -> tuple[Outcome, Any]:
    """``(type, value)`` of the history completion event for ``op`` answered by ``reply``."""
    if isinstance(op, Read):
        return reply.outcome, reply.value if reply.outcome == "ok" else None
    return reply.outcome, history_invocation(op)[2]
