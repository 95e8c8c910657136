"""The replicated key-value state machine with client sessions (codex 5.3).

Every replica of every protocol feeds the same committed byte strings, in the same order, to a
:class:`KVStateMachine`; because :meth:`KVStateMachine.apply` is a deterministic function of the
state and the command, replicas that applied the same prefix hold byte-identical state
(:meth:`~KVStateMachine.digest` compares them).

Sessions make retries safe (Raft dissertation §6.3). A session is opened by committing
:class:`~archlab.consensus.client.OpenSession`; its id is the index at which that command was
applied, so all replicas agree on it without coordination. For a
:class:`~archlab.consensus.client.Command` ``(session, seq, op)``:

- ``seq`` greater than the session's last sequence number: ``op`` is executed and its reply is
  cached as the session's last reply;
- ``seq`` equal to it: a retry of a command already applied — the cached reply is returned and
  nothing changes (this is what makes a command that commits twice apply once);
- ``seq`` lower: a delayed duplicate of a command whose reply the client has already moved past:
  ``info`` with ``stale-sequence``, nothing changes;
- an unknown session (never opened, or evicted): ``info`` with ``session-expired``, nothing
  changes. The outcome is ``info``, not ``fail``: the command may have been applied before its
  session was evicted.

At most ``max_sessions`` sessions are kept; beyond that the least recently used one is evicted.
Eviction is deterministic (it depends only on the applied sequence), so replicas agree on it,
provided every replica is configured with the same bound.

:meth:`~KVStateMachine.snapshot` serialises the map, the sessions (in LRU order, with their
cached replies) and the applied index as canonical JSON; :meth:`~KVStateMachine.restore` is its
inverse. Log compaction stores that snapshot in place of the applied prefix of the log.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from archlab.consensus.client import (
    Cas,
    Command,
    KVOperation,
    MalformedPayloadError,
    OpenSession,
    Payload,
    Read,
    Reply,
    Value,
    Write,
    decode_payload,
)

DEFAULT_MAX_SESSIONS = 4096


@dataclass(slots=True)
class Session:
    """The last command a session applied and the reply it got."""

    last_seq: int
    last_reply: Reply | None


class KVStateMachine:
    """A deterministic map ``str -> Value`` with client sessions; see the module docstring."""

    def __init__(self, max_sessions: int = DEFAULT_MAX_SESSIONS) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1, got {max_sessions}")
        self.max_sessions = max_sessions
        self.applied_index = 0
        self.data: dict[str, Value] = {}
        self.sessions: OrderedDict[int, Session] = OrderedDict()
        #: Commands actually executed (not deduplicated): a test can count double applications.
        self.executed = 0

    # -- applying committed commands ------------------------------------------------------

    def apply(self, index: int, data: bytes) -> Reply:
        """Apply the committed command ``data`` found at log position ``index``.

        Positions must strictly increase (gaps are allowed: a protocol's no-ops and
        configuration entries never reach the state machine). Malformed bytes get a ``fail``
        reply on every replica alike and change nothing.
        """
        try:
            payload = decode_payload(data)
        except MalformedPayloadError as exc:
            self._advance(index)
            return Reply("fail", error=f"malformed: {exc}")
        return self.apply_decoded(index, payload)

    def apply_decoded(self, index: int, payload: Payload) -> Reply:
        """:meth:`apply` for a command already decoded (the leader still holds it)."""
        self._advance(index)
        if isinstance(payload, OpenSession):
            return self._open_session(index)
        return self._apply_command(payload)

    def _advance(self, index: int) -> None:
        if index <= self.applied_index:
            raise ValueError(f"apply({index}) after applied index {self.applied_index}")
        self.applied_index = index

    def _open_session(self, index: int) -> Reply:
        self.sessions[index] = Session(last_seq=0, last_reply=None)
        while len(self.sessions) > self.max_sessions:
            self.sessions.popitem(last=False)
        return Reply("ok", value=index)

    def _apply_command(self, command: Command) -> Reply:
        session = self.sessions.get(command.session)
        if session is None:
            return Reply("info", error="session-expired")
        if command.seq == session.last_seq and session.last_reply is not None:
            return session.last_reply
        if command.seq <= session.last_seq:
            return Reply("info", error="stale-sequence")
        reply = self.execute(command.op)
        session.last_seq = command.seq
        session.last_reply = reply
        self.sessions.move_to_end(command.session)
        return reply

    def execute(self, op: KVOperation) -> Reply:
        """Run one operation against the map (no session bookkeeping)."""
        self.executed += 1
        if isinstance(op, Read):
            return Reply("ok", value=self.data.get(op.key))
        if isinstance(op, Write):
            self.data[op.key] = op.value
            return Reply("ok", value=op.value)
        assert isinstance(op, Cas)
        current = self.data.get(op.key)
        if current != op.expected or type(current) is not type(op.expected):
            return Reply("fail", value=current)
        self.data[op.key] = op.new
        return Reply("ok", value=op.new)

    def read(self, key: str) -> Value:
        """A local read of the applied state (ReadIndex and lease reads serve from here)."""
        return self.data.get(key)

    # -- snapshots ------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Canonical bytes of the whole state (two equal states give equal bytes)."""
        body = {
            "applied_index": self.applied_index,
            "data": [[k, self.data[k]] for k in sorted(self.data)],
            "max_sessions": self.max_sessions,
            "sessions": [
                [sid, s.last_seq, None if s.last_reply is None else _reply_to_json(s.last_reply)]
                for sid, s in self.sessions.items()
            ],
        }
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def restore(cls, snapshot: bytes) -> KVStateMachine:
        """A state machine equal to the one that produced ``snapshot``."""
        body = json.loads(snapshot)
        machine = cls(max_sessions=int(body["max_sessions"]))
        machine.applied_index = int(body["applied_index"])
        machine.data = {str(k): v for k, v in body["data"]}
        for sid, last_seq, reply in body["sessions"]:
            machine.sessions[int(sid)] = Session(
                int(last_seq), None if reply is None else _reply_from_json(reply)
            )
        return machine

    def digest(self) -> str:
        """A short hash of :meth:`snapshot`, to compare replicas."""
        return hashlib.sha256(self.snapshot()).hexdigest()[:16]


def _reply_to_json(reply: Reply) -> list[Any]:
    return [reply.outcome, reply.value, reply.error, reply.leader]


def _reply_from_json(body: list[Any]) -> Reply:
    outcome, value, error, leader = body
    return Reply(outcome, value, error, leader)
