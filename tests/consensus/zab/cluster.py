"""A deterministic in-test Zab cluster: N sans-IO nodes, a message pool, crashes, partitions.

The Zab counterpart of ``tests/consensus/paxos/cluster.py``: every event is picked by the test
(or Hypothesis). After each Ready the cluster persists it, checks persist-before-send, pools the
messages, feeds the :class:`~archlab.consensus.zab.order.OrderChecker` the transactions the
node broadcast (a leader persisting a new transaction of its own epoch) and delivered, and
applies the delivered ones to the node's :class:`KVStateMachine`. :meth:`ZabCluster.check`
raises on any ordering violation, on two leaders established in one epoch, on a delivered
transaction no longer held durably by a quorum, and on replicas whose state machines differ at
the same position.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace

from archlab.consensus.client import OpenSession, encode_payload
from archlab.consensus.kv import KVStateMachine
from archlab.consensus.zab import (
    Flaws,
    MemoryZabStorage,
    Message,
    ProposalRejected,
    ServerState,
    ZabConfig,
    ZabNode,
    ZabReady,
    Zxid,
    persist_violations,
)
from archlab.consensus.zab.order import OrderChecker
from tests.consensus.pool import PooledCluster


class InvariantViolation(AssertionError):
    """A Zab safety property does not hold."""


def durable_segments(storage: MemoryZabStorage) -> dict[int, int]:
    """Epoch -> last counter of the durable history (snapshot included)."""
    segments = dict(storage.snapshot().segments)
    for txn in storage.txns():
        segments[txn.zxid.epoch] = txn.zxid.counter
    return segments


@dataclass
class ZabCluster(PooledCluster):
    ids: list[int]
    seed: int = 0
    election_tick: int = 4
    max_batch: int = 3
    flaws: Flaws = field(default_factory=Flaws)
    strict_persist: bool = True
    #: The members that vote (default: all); the others are observers.
    voters: set[int] | None = None

    def __post_init__(self) -> None:
        self.config = ZabConfig(
            id=self.ids[0],
            members=frozenset(self.ids),
            election_tick=self.election_tick,
            establish_ticks=4 * self.election_tick,
            max_batch=self.max_batch,
            flaws=self.flaws,
        )
        self.storages = {i: MemoryZabStorage() for i in self.ids}
        self.nodes: dict[int, ZabNode | None] = {}
        self.machines: dict[int, KVStateMachine] = {}
        self.pool: list[Message] = []
        self.groups: dict[int, int] = {}
        self.order = OrderChecker()
        self.established: dict[int, int] = {}
        self.delivered: dict[int, Zxid] = {}
        self.boots: Counter[int] = Counter()
        self.sent: Counter[str] = Counter()
        #: Every message any node sent, in order (tests look for one kind).
        self.sent_log: list[Message] = []
        self.session: int | None = None
        self._next_payload = 0
        for node_id in self.ids:
            self.start(node_id)

    # -- nodes ----------------------------------------------------------------------------

    def start(self, node_id: int) -> ZabNode:
        storage = self.storages[node_id]
        self.boots[node_id] += 1
        rng = random.Random(self.seed * 1_000_003 + node_id * 1009 + self.boots[node_id])
        voter = self.voters is None or node_id in self.voters
        node = ZabNode(replace(self.config, id=node_id, voter=voter), storage, rng)
        self.nodes[node_id] = node
        snapshot = storage.snapshot()
        self.machines[node_id] = (
            KVStateMachine.restore(snapshot.data) if snapshot.data else KVStateMachine()
        )
        self.order.restarted(node_id, snapshot.length)
        if snapshot.length:
            self.order.installed(node_id, snapshot.segments)
        self.process(node_id)
        return node

    def crash(self, node_id: int) -> None:
        self.nodes[node_id] = None
        self.machines.pop(node_id, None)

    def node(self, node_id: int) -> ZabNode:
        node = self.nodes[node_id]
        assert node is not None, f"node {node_id} is down"
        return node

    def alive(self) -> dict[int, ZabNode]:
        return {i: n for i, n in self.nodes.items() if n is not None}

    def leader(self) -> ZabNode | None:
        leaders = [n for n in self.alive().values() if n.established]
        return max(leaders, key=lambda n: n.epoch) if leaders else None

    # -- the Ready loop -------------------------------------------------------------------

    def process(self, node_id: int) -> None:
        node = self.nodes[node_id]
        if node is None:
            return
        storage = self.storages[node_id]
        while node.has_ready():
            ready = node.ready()
            storage.persist(ready.hard_state, ready.snapshot, ready.history_from, ready.txns)
            problems = persist_violations(ready, storage)
            if problems and self.strict_persist:
                raise InvariantViolation(f"persist before send: {problems[0]}")
            self.pool.extend(ready.messages)
            self.sent.update(type(m).__name__ for m in ready.messages)
            self.sent_log.extend(ready.messages)
            self._deliver(node_id, node, ready)
            node.advance(ready)
            if node.established:
                other = self.established.setdefault(node.epoch, node_id)
                if other != node_id:
                    raise InvariantViolation(
                        f"nodes {other} and {node_id} both established epoch {node.epoch}"
                    )

    def _deliver(self, node_id: int, node: ZabNode, ready: ZabReady) -> None:
        machine = self.machines[node_id]
        if ready.snapshot is not None:
            machine = KVStateMachine.restore(ready.snapshot.data)
            self.machines[node_id] = machine
            self.order.installed(node_id, ready.snapshot.segments)
        for txn in ready.committed:
            self.order.deliver(node_id, txn.position, txn.zxid)
            self.delivered.setdefault(txn.position, txn.zxid)
            reply = machine.apply(txn.position, txn.data)
            if txn.data == encode_payload(OpenSession()) and self.session is None:
                assert isinstance(reply.value, int)
                self.session = reply.value
        if node.state is ServerState.LEADING:
            for txn in ready.txns:
                if txn.zxid.epoch == node.epoch:
                    self.order.broadcast(node_id, txn.zxid)

    def compact(self, node_id: int) -> bool:
        node = self.nodes[node_id]
        if node is None or node.applied_index <= node.history.base:
            return False
        snapshot = node.snapshot_at(node.applied_index, self.machines[node_id].snapshot())
        self.storages[node_id].compact(snapshot)
        node.compact(snapshot)
        return True

    # -- time and clients -----------------------------------------------------------------

    def run(self, rounds: int = 20) -> None:
        """Deliver everything and tick every node, ``rounds`` times."""
        for _ in range(rounds):
            self.deliver_all(max_messages=2000)
            self.tick_all()
        self.deliver_all(max_messages=2000)

    def settle(self, rounds: int = 30) -> ZabNode | None:
        """Deliver and tick until an established leader has committed all it proposed."""
        for _ in range(rounds):
            self.deliver_all(max_messages=2000)
            leader = self.leader()
            if leader is not None and leader.committed == leader.history.length:
                return leader
            self.tick_all()
        return self.leader()

    def propose(self, node_id: int, data: bytes | None = None) -> Zxid | None:
        node = self.nodes[node_id]
        if node is None:
            return None
        try:
            _, zxid = node.propose(self.next_payload() if data is None else data)
        except ProposalRejected:
            return None
        self.process(node_id)
        return zxid

    # -- checks ---------------------------------------------------------------------------

    def check(self) -> None:
        found = self.order.violations()
        if found:
            raise InvariantViolation(str(found[0]))
        quorum = self.config.quorum
        durable = [durable_segments(s) for s in self.storages.values()]
        for position, zxid in self.delivered.items():
            holders = sum(1 for d in durable if d.get(zxid.epoch, 0) >= zxid.counter)
            if holders < quorum:
                raise InvariantViolation(
                    f"{zxid} delivered at position {position} is held durably by {holders} "
                    f"nodes only (quorum {quorum})"
                )
        by_applied: dict[int, tuple[int, str]] = {}
        for node_id, node in self.alive().items():
            digest = self.machines[node_id].digest()
            known = by_applied.setdefault(node.applied_index, (node_id, digest))
            if known[1] != digest:
                raise InvariantViolation(
                    f"state machines of nodes {node_id} and {known[0]} differ at position "
                    f"{node.applied_index}"
                )
