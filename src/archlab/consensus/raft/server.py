"""A Raft replica of the kv store, sans-IO: requests in, persist / send / reply out (codex 5.3).

:class:`RaftServer` is what a host runs on each machine: a
:class:`~archlab.consensus.raft.RaftNode`, the :class:`~archlab.consensus.kv.KVStateMachine`
it feeds, and the glue between them and the clients. It implements
:class:`archlab.consensus.server.ConsensusServer`; the simulator
(:mod:`archlab.consensus.simhost`) and the asyncio runtime drive it the same way::

    server = RaftServer(RaftConfig(id=1), storage, random.Random(seed))
    # on each event ...
    server.tick()                      # every tick of the host's clock (e.g. 10 ms)
    server.receive(message)            # a raft message from a peer
    server.request(client_request)     # a ClientRequest from a client
    for action in server.drain():      # ... then carry out, IN ORDER:
        SyncStorage  -> fsync what the server wrote to `storage` (nothing below may happen first)
        SendMessage  -> send action.message to server action.dst
        Respond      -> send action.response to client action.client
        Applied/Note -> record or log (optional)

What it does with a request (a :class:`~archlab.consensus.client.ClientRequest`):

- **not the leader**: answers at once ``Reply("fail", error="not-leader", leader=hint)``: this
  attempt did nothing; the client retries at the hinted leader.
- **OpenSession, Write, Cas** (and Read with ``log_reads``): proposes the encoded payload and
  remembers the request under the entry's ``(index, term)``. When the entry at that index is
  applied, the request is answered with the state machine's reply *if the applied entry has that
  term*; a different term at that index means this attempt was overwritten and did not apply: the
  answer is ``Reply("info", error="retry")``, and the client retries the same ``(session, seq)``,
  which the session table makes safe (a retried command applies at most once).
- **Read**: a linearizable read without writing the log, by ReadIndex (or a lease, with
  ``RaftConfig(read_mode=ReadMode.LEASE)``): served from the local state machine once it has
  applied the index Raft hands back.
- **losing leadership**: every request still waiting is answered ``not-leader`` with the new
  leader as hint (the proposal may still commit; the client's retry then gets the cached reply)
  — etcd's "leader changed" error. With ``ServerOptions(redirect_when_deposed=False)`` proposals
  wait instead for whatever ends up at their index, and are answered by the ``(index, term)``
  rule above (reads, which the new leader would not confirm, are still redirected).

After each Ready the server persists through its :class:`~archlab.consensus.raft.DurableStorage`
(``persist`` before the sync), applies committed entries, serves reads, and compacts: once
``compact_after`` applied entries sit above the stored snapshot it stores a snapshot of the state
machine in their place (``storage.compact``); a follower that falls behind it is sent the
snapshot (InstallSnapshot), which the server installs by restoring the state machine from it.

A server built with a ``recovery`` mark that says its node lost its disk starts that node in
recovery; as the leader, a server re-admits recovering members by demotion and promotion
(:mod:`archlab.consensus.raft.recovery`).
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.consensus.client import (
    ClientRequest,
    ClientResponse,
    Command,
    Payload,
    Read,
    Reply,
    encode_payload,
)
from archlab.consensus.kv import DEFAULT_MAX_SESSIONS, KVStateMachine
from archlab.consensus.proposal import ProposalRejected
from archlab.consensus.raft.config import RaftConfig
from archlab.consensus.raft.membership import ConfChange
from archlab.consensus.raft.messages import Message
from archlab.consensus.raft.node import RaftNode, Status
from archlab.consensus.raft.ready import Ready, persist_violations
from archlab.consensus.raft.recovery import RecoveryMark, repair
from archlab.consensus.raft.storage import DurableStorage
from archlab.consensus.raft.types import Entry, EntryKind, ReadState, Role, Snapshot, SoftState
from archlab.consensus.server import Action, Applied, Note, Respond, SendMessage, SyncStorage
from archlab.randomness import RandomSource

#: The answer to an attempt that was overwritten or whose outcome this server cannot tell.
RETRY = Reply("info", error="retry")
#: At most this many persist-before-send problems are kept (``check_persist``).
_MAX_PROBLEMS = 100


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """How a :class:`RaftServer` treats its clients and its log.

    - ``compact_after``: compact once this many applied entries follow the stored snapshot.
    - ``max_sessions``: the state machine's session table size (equal on every replica).
    - ``log_reads``: send reads through the log like writes instead of ReadIndex / lease.
    - ``max_pending``: requests waiting at once; beyond it a request is refused with ``busy``.
    - ``check_persist``: after each persist, record in :attr:`RaftServer.persist_problems` what
      the Ready's messages promise that the storage does not hold (a testing aid).
    - ``redirect_when_deposed``: answer waiting proposals ``not-leader`` on losing leadership
      (default), or keep them until their index is applied.
    """

    compact_after: int = 1000
    max_sessions: int = DEFAULT_MAX_SESSIONS
    log_reads: bool = False
    max_pending: int = 4096
    check_persist: bool = False
    redirect_when_deposed: bool = True

    def __post_init__(self) -> None:
        if self.compact_after < 1 or self.max_pending < 1:
            raise ValueError("compact_after and max_pending must be at least 1")


@dataclass(slots=True)
class _Proposal:
    term: int
    client: int | str
    request_id: int
    #: The command, decoded: applied as it is when its entry commits in this term.
    payload: Payload


@dataclass(slots=True)
class _Read:
    client: int | str
    request_id: int
    key: str
    index: int | None = None


class RaftServer:
    """One replica: Raft + the kv state machine + client handling (see the module docstring).

    ``storage`` holds what survived the last crash (a fresh one bootstraps the cluster with its
    configuration, or starts a server that waits to be added); the state machine is restored
    from its snapshot and the committed entries after it are applied again.
    """

    def __init__(
        self,
        config: RaftConfig,
        storage: DurableStorage,
        rng: RandomSource,
        options: ServerOptions | None = None,
        recovery: RecoveryMark | None = None,
    ) -> None:
        self.options = options or ServerOptions()
        self.storage = storage
        self._recovery = recovery
        snapshot = storage.snapshot()
        self.kv = self._machine(snapshot)
        recovering = recovery is not None and recovery.recovering
        self.node = RaftNode(config, storage, rng, recovering=recovering)
        self._nonce = rng.getrandbits(64).to_bytes(8, "big")
        self._next_read = 0
        self._proposals: dict[int, _Proposal] = {}
        self._reads: dict[bytes, _Read] = {}
        self._confirmed: list[_Read] = []
        self._in_progress: set[tuple[int | str, int]] = set()
        self._outbox: list[Action] = []
        self._role = Role.FOLLOWER
        #: What Readies' messages promised beyond the storage (only with ``check_persist``).
        self.persist_problems: list[str] = []

    def _machine(self, snapshot: Snapshot) -> KVStateMachine:
        if snapshot.data:
            return KVStateMachine.restore(snapshot.data)
        return KVStateMachine(self.options.max_sessions)

    # == inspection ==========================================================================

    @property
    def id(self) -> int:
        return self.node.id

    @property
    def is_leader(self) -> bool:
        return self.node.is_leader

    def leadership(self) -> int | None:
        return self.node.term if self.node.is_leader else None

    def leader_hint(self) -> int | None:
        return self.node.leader

    def status(self) -> Status:
        return self.node.status()

    @property
    def pending(self) -> int:
        """Requests waiting for a commit or a read confirmation."""
        return len(self._in_progress)

    # == inputs ==============================================================================

    def tick(self) -> None:
        self.node.tick()

    def receive(self, message: Message) -> None:
        self.node.step(message)

    def campaign(self) -> None:
        """Start an election now (tests and experiments; normally the timeout does it)."""
        self.node.campaign()

    def propose_conf_change(self, change: ConfChange) -> int:
        """Propose a single-server membership change; returns its log index.

        Raises :class:`~archlab.consensus.raft.ProposalRejected` (not the leader, a change in
        flight, nothing committed in this term yet) or
        :class:`~archlab.consensus.raft.ConfChangeError` (not a valid change).
        """
        return self.node.propose_conf_change(change)

    def request(self, request: ClientRequest) -> None:
        key = (request.client, request.request_id)
        if key in self._in_progress:
            return  # a duplicate of a request already in progress
        if not self.node.is_leader:
            self._respond(request.client, request.request_id, self._not_leader(self.node.leader))
            return
        if len(self._in_progress) >= self.options.max_pending:
            self._respond(request.client, request.request_id, Reply("fail", error="busy"))
            return
        payload = request.payload
        if (
            isinstance(payload, Command)
            and isinstance(payload.op, Read)
            and not self.options.log_reads
        ):
            self._read(request, payload.op.key)
            return
        try:
            index = self.node.propose(request.data or encode_payload(payload))
        except ProposalRejected as refused:
            self._respond(request.client, request.request_id, self._not_leader(refused.leader))
            return
        earlier = self._proposals.get(index)
        if earlier is not None:  # an attempt from an earlier term whose entry was replaced
            self._respond(earlier.client, earlier.request_id, RETRY)
        self._proposals[index] = _Proposal(
            self.node.term, request.client, request.request_id, payload
        )
        self._in_progress.add(key)

    def _read(self, request: ClientRequest, key: str) -> None:
        self._next_read += 1
        context = self._nonce + self._next_read.to_bytes(8, "big")
        try:
            self.node.read_index(context)
        except ProposalRejected as refused:
            self._respond(request.client, request.request_id, self._not_leader(refused.leader))
            return
        self._reads[context] = _Read(request.client, request.request_id, key)
        self._in_progress.add((request.client, request.request_id))

    # == outputs =============================================================================

    def drain(self) -> list[Action]:
        """Process every pending Ready; return the actions in the order to carry them out."""
        node = self.node
        while node.has_ready():
            ready = node.ready()
            self.storage.persist(ready.hard_state, ready.entries, ready.snapshot)
            if self.options.check_persist:
                self._check_persist(ready)
            if self._recovered() or ready.must_sync:
                self._outbox.append(SyncStorage())
            if ready.soft_state is not None:
                self._role_changed(ready.soft_state)
            self._outbox.extend(SendMessage(m.dst, m) for m in ready.messages)
            if ready.snapshot is not None:
                self._install(ready.snapshot)
            for entry in ready.committed_entries:
                self._apply(entry)
            for state in ready.read_states:
                self._read_confirmed(state)
            node.advance(ready)
            self._serve_reads()
            self._maybe_compact()
            self._repair_membership()
        actions, self._outbox = self._outbox, []
        return actions

    def _recovered(self) -> bool:
        """Clear the recovery mark once the node left recovery (synced with its new vote)."""
        mark = self._recovery
        if mark is None or not mark.recovering or self.node.recovering:
            return False
        mark.recovered()
        self._outbox.append(Note("re-admitted as a voter after losing its disk"))
        return True

    def _repair_membership(self) -> None:
        """As the leader, demote or promote a member recovering a lost disk (``recovery``)."""
        change = repair(self.node)
        if change is None:
            return
        try:
            self.node.propose_conf_change(change)
        except ProposalRejected:
            return
        self._outbox.append(Note(f"membership: {change.kind.value} {change.node} (lost disk)"))

    def _check_persist(self, ready: Ready) -> None:
        problems = persist_violations(ready, self.storage)
        room = _MAX_PROBLEMS - len(self.persist_problems)
        self.persist_problems.extend(problems[: max(0, room)])

    def _role_changed(self, soft: SoftState) -> None:
        was = self._role
        self._role = soft.role
        if soft.role is Role.LEADER and was is not Role.LEADER:
            self._outbox.append(Note(f"leader of term {self.node.term}"))
        elif was is Role.LEADER and soft.role is not Role.LEADER:
            self._outbox.append(Note(f"stepped down in term {self.node.term}"))
            self._abandon(soft.leader)

    def _abandon(self, leader: int | None) -> None:
        """No longer the leader: answer what waits for a leadership check (and, by default,
        for a commit)."""
        refusal = self._not_leader(leader)
        if self.options.redirect_when_deposed:
            for index in sorted(self._proposals):
                proposal = self._proposals.pop(index)
                self._respond(proposal.client, proposal.request_id, refusal)
        for read in self._reads.values():
            self._respond(read.client, read.request_id, refusal)
        self._reads.clear()

    def _install(self, snapshot: Snapshot) -> None:
        self.kv = self._machine(snapshot)
        for index in [i for i in self._proposals if i <= snapshot.index]:
            proposal = self._proposals.pop(index)
            self._respond(proposal.client, proposal.request_id, RETRY)

    def _apply(self, entry: Entry) -> None:
        reply: Reply | None = None
        if entry.kind is EntryKind.CONFIG:
            kind = "config"
        elif not entry.data:
            kind = "noop"
        else:
            kind = "command"
            mine = self._proposals.get(entry.index)
            if mine is not None and mine.term == entry.term:
                reply = self.kv.apply_decoded(entry.index, mine.payload)  # decoded already
            else:
                reply = self.kv.apply(entry.index, entry.data)
        self._outbox.append(Applied(entry.index, entry.term, kind, entry.data))
        proposal = self._proposals.pop(entry.index, None)
        if proposal is not None:
            answer = reply if reply is not None and proposal.term == entry.term else RETRY
            self._respond(proposal.client, proposal.request_id, answer)

    def _read_confirmed(self, state: ReadState) -> None:
        read = self._reads.pop(state.context, None)
        if read is not None:
            read.index = state.index
            self._confirmed.append(read)

    def _serve_reads(self) -> None:
        if not self._confirmed:
            return
        applied = self.node.applied_index
        waiting: list[_Read] = []
        for read in self._confirmed:
            if read.index is not None and read.index <= applied:
                self._respond(read.client, read.request_id, Reply("ok", self.kv.read(read.key)))
            else:
                waiting.append(read)
        self._confirmed = waiting

    def _maybe_compact(self) -> None:
        applied = self.node.applied_index
        if applied - self.storage.snapshot().index < self.options.compact_after:
            return
        metadata = self.node.snapshot_metadata(applied)
        self.storage.compact(Snapshot(metadata, self.kv.snapshot()))

    # == replies =============================================================================

    @staticmethod
    def _not_leader(leader: int | None) -> Reply:
        return Reply("fail", error="not-leader", leader=leader)

    def _respond(self, client: int | str, request_id: int, reply: Reply) -> None:
        self._in_progress.discard((client, request_id))
        self._outbox.append(Respond(client, ClientResponse(request_id, reply)))
