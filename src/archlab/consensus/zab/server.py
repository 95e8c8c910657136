"""A Zab replica of the key-value store, sans-IO (codex 5.3).

:class:`ZabServer` is a :class:`~archlab.consensus.zab.ZabNode`, the
:class:`~archlab.consensus.kv.KVStateMachine` it feeds, and the glue to clients
(:mod:`archlab.consensus.replica`); it implements
:class:`archlab.consensus.server.ConsensusServer`, so the simulator's
:class:`~archlab.consensus.simhost.ServerNode` (and the runtime) drive it like Raft's.

A request on the established leader becomes a transaction at the end of its history and is
answered when that position is delivered (with the state machine's reply if the transaction
delivered there is this one, ``retry`` otherwise); elsewhere it is refused with the leader's id
as a hint. Delivered transactions are applied at their history position; every
``compact_after`` of them the state machine is snapshotted and the history before it dropped;
a follower whose common prefix with the leader is compacted is synchronized with the snapshot
(SNAP).

With an :class:`~archlab.consensus.zab.order.OrderChecker` (``order``), the server reports what
that checker needs, under its id: each transaction it broadcasts as leader, each it delivers,
each snapshot it installs, and where it restarts from.
"""

from __future__ import annotations

from archlab.consensus.client import ClientRequest, Command, Read, encode_payload
from archlab.consensus.kv import KVStateMachine
from archlab.consensus.proposal import ProposalRejected
from archlab.consensus.readindex import QuorumReads
from archlab.consensus.replica import PendingRequests, ReplicaOptions, not_leader
from archlab.consensus.server import Action, Applied, Note, SendMessage, SyncStorage
from archlab.consensus.zab.config import ZabConfig
from archlab.consensus.zab.messages import Message
from archlab.consensus.zab.node import ZabNode, ZabStatus
from archlab.consensus.zab.order import OrderChecker
from archlab.consensus.zab.ready import ZabReady, persist_violations
from archlab.consensus.zab.storage import ZabStorage
from archlab.consensus.zab.types import Phase, ServerState, SoftState
from archlab.randomness import RandomSource


class ZabServer:
    """One replica: Zab + the kv state machine + client handling."""

    def __init__(
        self,
        config: ZabConfig,
        storage: ZabStorage,
        rng: RandomSource,
        options: ReplicaOptions | None = None,
        order: OrderChecker | None = None,
    ) -> None:
        self.options = options or ReplicaOptions()
        self.storage = storage
        snapshot = storage.snapshot()
        self.kv: KVStateMachine = self.options.machine(snapshot.data)
        self.node = ZabNode(config, storage, rng)
        self.order = order
        if order is not None:
            order.restarted(config.id, snapshot.length)
            if snapshot.length:
                order.installed(config.id, snapshot.segments)
        self.pending = PendingRequests(self.options.max_pending)
        self.reads = QuorumReads()
        self._established = False

    @property
    def id(self) -> int:
        return self.node.id

    @property
    def persist_problems(self) -> list[str]:
        return self.pending.persist_problems

    def leadership(self) -> int | None:
        """The epoch this server leads, once established."""
        return self.node.epoch if self.node.established else None

    def leader_hint(self) -> int | None:
        return self.node.leader

    def status(self) -> ZabStatus:
        return self.node.status()

    # == inputs ==============================================================================

    def tick(self) -> None:
        self.node.tick()

    def receive(self, message: Message) -> None:
        self.node.step(message)

    def request(self, request: ClientRequest) -> None:
        if not self.node.established:
            hint = self.node.leader if self.node.leader != self.id else None
            self.pending.respond(request.client, request.request_id, not_leader(hint))
            return
        if not self.pending.admit(request):
            return
        if self._quorum_read(request):
            return
        data = encode_payload(request.payload)
        try:
            position, zxid = self.node.propose(data)
        except ProposalRejected as refused:
            self.pending.refused(request, refused.leader, self.id)
            return
        if self.order is not None:
            self.order.broadcast(self.id, zxid)
        self.pending.wait(position, request, data)

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
            self.storage.persist(ready.hard_state, ready.snapshot, ready.history_from, ready.txns)
            if self.options.check_persist:
                self.pending.problems(persist_violations(ready, self.storage))
            if ready.must_sync:
                out.append(SyncStorage())
            if ready.soft_state is not None:
                self._state_changed(ready.soft_state)
            out.extend(SendMessage(m.dst, m) for m in ready.messages)
            self._apply(ready)
            node.advance(ready)
            self._maybe_compact()
        self.reads.serve(
            self.node, self.kv, self.leadership(), self.pending.respond, self.node.leader
        )
        return self.pending.take()

    def _state_changed(self, soft: SoftState) -> None:
        established = soft.state is ServerState.LEADING and soft.phase is Phase.BROADCAST
        was, self._established = self._established, established
        if established and not was:
            self.pending.outbox.append(Note(f"established leader of epoch {self.node.epoch}"))
        elif was and not established:
            self.pending.outbox.append(Note(f"stopped leading epoch {self.node.epoch}"))
            self.pending.abandon(soft.leader if soft.leader != self.id else None)

    def _apply(self, ready: ZabReady) -> None:
        if ready.snapshot is not None:
            self.kv = self.options.machine(ready.snapshot.data)
            self.pending.covered(ready.snapshot.length)
            if self.order is not None:
                self.order.installed(self.id, ready.snapshot.segments)
        for txn in ready.committed:
            if self.order is not None:
                self.order.deliver(self.id, txn.position, txn.zxid)
            reply = self.kv.apply(txn.position, txn.data) if txn.data else None
            kind = "command" if txn.data else "noop"
            self.pending.outbox.append(Applied(txn.position, txn.zxid.epoch, kind, txn.data))
            self.pending.applied(txn.position, txn.data, reply)

    def _maybe_compact(self) -> None:
        applied = self.node.applied_index
        if applied - self.storage.snapshot().length < self.options.compact_after:
            return
        snapshot = self.node.snapshot_at(applied, self.kv.snapshot())
        self.storage.compact(snapshot)
        self.node.compact(snapshot)
