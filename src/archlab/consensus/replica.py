"""Client handling shared by the log-position servers of Multi-Paxos and Zab (codex 5.3).

A server of the replicated key-value store turns a client request into a proposal at some
*position* of the replicated log (a Paxos slot, a Zab history position), and answers the
request when that position is applied: with the state machine's reply if the value applied
there is the one it proposed, with ``retry`` if another value took the position (this attempt
did nothing; the client retries the same ``(session, seq)``, which the session table makes
safe). :class:`PendingRequests` is that bookkeeping, and :class:`ReplicaOptions` the knobs the
servers share. Every read is a command in the log, so it is linearizable by construction.

What a server does with a request, as :class:`~archlab.consensus.raft.server.RaftServer` does:
not the leader → ``fail`` ``not-leader`` with its hint (the attempt did nothing); too many
waiting → ``fail`` ``busy``; deposed → every waiting request is answered ``not-leader`` (its
proposal may still commit; the client's retry then gets the cached reply).
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.consensus.client import ClientRequest, ClientResponse, Reply
from archlab.consensus.kv import DEFAULT_MAX_SESSIONS, KVStateMachine
from archlab.consensus.server import Action, Respond

#: The answer to an attempt whose position another value took.
RETRY = Reply("info", error="retry")
_MAX_PROBLEMS = 100


def not_leader(leader: int | None) -> Reply:
    return Reply("fail", error="not-leader", leader=leader)


@dataclass(frozen=True, slots=True)
class ReplicaOptions:
    """- ``compact_after``: compact once this many applied positions follow the snapshot;
    - ``max_sessions``: the state machine's session table size (equal on every replica);
    - ``max_pending``: requests waiting at once; beyond it ``busy``;
    - ``check_persist``: record what each Ready's messages promise that storage does not hold
      (a testing aid; the simulator's observer reports it);
    - ``log_reads``: send reads through the log like writes, instead of confirming leadership
      by a heartbeat round (:mod:`archlab.consensus.readindex`)."""

    compact_after: int = 1000
    max_sessions: int = DEFAULT_MAX_SESSIONS
    max_pending: int = 4096
    check_persist: bool = False
    log_reads: bool = False

    def __post_init__(self) -> None:
        if self.compact_after < 1 or self.max_pending < 1:
            raise ValueError("compact_after and max_pending must be at least 1")

    def machine(self, snapshot: bytes) -> KVStateMachine:
        return KVStateMachine.restore(snapshot) if snapshot else KVStateMachine(self.max_sessions)


@dataclass(slots=True)
class _Pending:
    client: int | str
    request_id: int
    data: bytes


class PendingRequests:
    """Requests waiting for their position to be applied, and the outbox of answers."""

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self._by_position: dict[int, _Pending] = {}
        self._keys: set[tuple[int | str, int]] = set()
        self.outbox: list[Action] = []
        self.persist_problems: list[str] = []

    def __len__(self) -> int:
        return len(self._keys)

    def admit(self, request: ClientRequest) -> bool:
        """Whether to go on with ``request`` (not a duplicate in progress, room left)."""
        key = (request.client, request.request_id)
        if key in self._keys:
            return False
        if len(self._keys) >= self.max_pending:
            self.respond(request.client, request.request_id, Reply("fail", error="busy"))
            return False
        return True

    def wait(self, position: int, request: ClientRequest, data: bytes) -> None:
        self._by_position[position] = _Pending(request.client, request.request_id, data)
        self._keys.add((request.client, request.request_id))

    def refused(self, request: ClientRequest, leader: int | None, me: int) -> None:
        """The node refused to propose ``request``, naming ``leader``: ``busy`` if that is this
        server ``me`` (it leads, with no room left), ``not-leader`` with the hint otherwise."""
        reply = not_leader(leader) if leader != me else Reply("fail", error="busy")
        self.respond(request.client, request.request_id, reply)

    def applied(self, position: int, data: bytes, reply: Reply | None) -> None:
        """Position ``position`` got ``data`` (``reply`` is the state machine's answer)."""
        pending = self._by_position.pop(position, None)
        if pending is not None:
            answer = reply if reply is not None and pending.data == data else RETRY
            self.respond(pending.client, pending.request_id, answer)

    def covered(self, upto: int) -> None:
        """A snapshot replaced positions up to ``upto``: their requests' fate is unknown here."""
        for position in [p for p in self._by_position if p <= upto]:
            pending = self._by_position.pop(position)
            self.respond(pending.client, pending.request_id, RETRY)

    def abandon(self, leader: int | None) -> None:
        refusal = not_leader(leader)
        for position in sorted(self._by_position):
            pending = self._by_position.pop(position)
            self.respond(pending.client, pending.request_id, refusal)

    def respond(self, client: int | str, request_id: int, reply: Reply) -> None:
        self._keys.discard((client, request_id))
        self.outbox.append(Respond(client, ClientResponse(request_id, reply)))

    def problems(self, found: list[str]) -> None:
        room = _MAX_PROBLEMS - len(self.persist_problems)
        self.persist_problems.extend(found[: max(0, room)])

    def take(self) -> list[Action]:
        actions, self.outbox = self.outbox, []
        return actions
