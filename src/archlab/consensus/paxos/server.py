"""A Multi-Paxos replica of the key-value store, sans-IO (codex 5.3).

:class:`PaxosServer` is a :class:`~archlab.consensus.paxos.PaxosNode`, the
:class:`~archlab.consensus.kv.KVStateMachine` it feeds, and the glue to clients
(:mod:`archlab.consensus.replica`); it implements
:class:`archlab.consensus.server.ConsensusServer`, so the simulator's
:class:`~archlab.consensus.simhost.ServerNode` (and the runtime) drive it like Raft's::

    server = PaxosServer(PaxosConfig(id=1, members=frozenset({1, 2, 3})), storage, rng)
    server.tick(); server.receive(message); server.request(client_request)
    for action in server.drain(): ...   # SyncStorage, SendMessage, Respond, Applied, Note

A request on the leader is proposed in the next free slot and answered when that slot is
applied; elsewhere it is refused with the leader's id as a hint. The chosen values are applied
in slot order (no-ops skipped); every ``compact_after`` applied slots the state machine is
snapshotted and the slots it covers are dropped from storage; a peer that falls behind the
snapshot receives it.
"""

from __future__ import annotations

from archlab.consensus.client import ClientRequest, Command, Read, encode_payload
from archlab.consensus.kv import KVStateMachine
from archlab.consensus.paxos.config import PaxosConfig
from archlab.consensus.paxos.messages import Message
from archlab.consensus.paxos.node import PaxosNode, PaxosStatus
from archlab.consensus.paxos.ready import PaxosReady, persist_violations
from archlab.consensus.paxos.storage import PaxosStorage
from archlab.consensus.paxos.types import Ballot, Chosen, Role, Snapshot, SoftState
from archlab.consensus.proposal import ProposalRejected
from archlab.consensus.readindex import QuorumReads
from archlab.consensus.replica import PendingRequests, ReplicaOptions, not_leader
from archlab.consensus.server import Action, Applied, Note, SendMessage, SyncStorage
from archlab.randomness import RandomSource


def ballot_number(ballot: Ballot) -> int:
    """A ballot as one integer that orders like it (what hosts call a leader's term)."""
    return ballot.round * 2**16 + ballot.node


class PaxosServer:
    """One replica: Multi-Paxos + the kv state machine + client handling."""

    def __init__(
        self,
        config: PaxosConfig,
        storage: PaxosStorage,
        rng: RandomSource,
        options: ReplicaOptions | None = None,
    ) -> None:
        self.options = options or ReplicaOptions()
        self.storage = storage
        self.kv: KVStateMachine = self.options.machine(storage.snapshot().data)
        self.node = PaxosNode(config, storage, rng)
        self.pending = PendingRequests(self.options.max_pending)
        self.reads = QuorumReads()
        self._role = Role.FOLLOWER

    @property
    def id(self) -> int:
        return self.node.id

    @property
    def persist_problems(self) -> list[str]:
        return self.pending.persist_problems

    def leadership(self) -> int | None:
        return ballot_number(self.node.ballot) if self.node.is_leader else None

    def leader_hint(self) -> int | None:
        return self.node.leader

    def status(self) -> PaxosStatus:
        return self.node.status()

    # == inputs ==============================================================================

    def tick(self) -> None:
        self.node.tick()

    def receive(self, message: Message) -> None:
        self.node.step(message)

    def campaign(self) -> None:
        self.node.campaign()

    def request(self, request: ClientRequest) -> None:
        if not self.node.is_leader:
            self.pending.respond(request.client, request.request_id, not_leader(self.node.leader))
            return
        if not self.pending.admit(request):
            return
        if self._quorum_read(request):
            return
        data = encode_payload(request.payload)
        try:
            slot = self.node.propose(data)
        except ProposalRejected as refused:
            self.pending.refused(request, refused.leader, self.id)
            return
        self.pending.wait(slot, request, data)

    def _quorum_read(self, request: ClientRequest) -> bool:
        """Start a read confirmed by a heartbeat round instead of the log (unless
        ``log_reads``); see :mod:`archlab.consensus.readindex`."""
        payload = request.payload
        if self.options.log_reads or not (
            isinstance(payload, Command) and isinstance(payload.op, Read)
        ):
            return False
        refusal = self.reads.start(
            self.node, request.client, request.request_id, payload.op.key, self.leadership()
        )
        if refusal is not None:
            self.pending.respond(request.client, request.request_id, refusal)
        return True

    # == outputs =============================================================================

    def drain(self) -> list[Action]:
        node = self.node
        out = self.pending.outbox
        while node.has_ready():
            ready = node.ready()
            self.storage.persist(ready.promised, ready.slots, ready.snapshot)
            if self.options.check_persist:
                self.pending.problems(persist_violations(ready, self.storage))
            if ready.must_sync:
                out.append(SyncStorage())
            if ready.soft_state is not None:
                self._role_changed(ready.soft_state)
            out.extend(SendMessage(m.dst, m) for m in ready.messages)
            self._apply(ready)
            node.advance(ready)
            self._maybe_compact()
        self.reads.serve(
            self.node, self.kv, self.leadership(), self.pending.respond, self.node.leader
        )
        return self.pending.take()

    def _role_changed(self, soft: SoftState) -> None:
        was, self._role = self._role, soft.role
        if soft.role is Role.LEADER and was is not Role.LEADER:
            self.pending.outbox.append(Note(f"leader with ballot {self.node.ballot}"))
        elif was is Role.LEADER and soft.role is not Role.LEADER:
            self.pending.outbox.append(Note(f"deposed (promised {self.node.promised})"))
            self.pending.abandon(soft.leader)

    def _apply(self, ready: PaxosReady) -> None:
        if ready.snapshot is not None:
            self.kv = self.options.machine(ready.snapshot.data)
            self.pending.covered(ready.snapshot.index)
        for chosen in ready.committed:
            self._apply_one(chosen)

    def _apply_one(self, chosen: Chosen) -> None:
        reply = self.kv.apply(chosen.slot, chosen.value) if chosen.value else None
        kind = "command" if chosen.value else "noop"
        self.pending.outbox.append(Applied(chosen.slot, 0, kind, chosen.value))
        self.pending.applied(chosen.slot, chosen.value, reply)

    def _maybe_compact(self) -> None:
        applied = self.node.applied_index
        if applied - self.storage.snapshot().index < self.options.compact_after:
            return
        snapshot = Snapshot(applied, self.kv.snapshot())
        self.storage.compact(snapshot)
        self.node.compact(snapshot)
