"""A deterministic in-test Multi-Paxos cluster: N sans-IO nodes, a message pool, crashes.

Like ``tests/consensus/cluster.py`` for Raft: the test (or Hypothesis) picks every event, which
message is delivered, dropped or duplicated, which node ticks, crashes or restarts, where the
network is cut. Each node is a :class:`PaxosNode` over a :class:`MemoryPaxosStorage` that
survives its crash; after each Ready the cluster persists, checks persist-before-send, pools the
messages and applies the chosen values to the node's :class:`KVStateMachine`, feeding
:class:`PaxosInvariants` everything it persisted and applied.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace

from archlab.consensus.client import OpenSession, encode_payload
from archlab.consensus.kv import KVStateMachine
from archlab.consensus.paxos import (
    Flaws,
    MemoryPaxosStorage,
    Message,
    PaxosConfig,
    PaxosNode,
    ProposalRejected,
    Role,
    Snapshot,
    persist_violations,
)
from tests.consensus.paxos.invariants import InvariantViolation, PaxosInvariants
from tests.consensus.pool import PooledCluster


@dataclass
class PaxosCluster(PooledCluster):
    ids: list[int]
    seed: int = 0
    election_tick: int = 4
    probe: bool = True
    check_quorum: bool = True
    max_batch: int = 3
    flaws: Flaws = field(default_factory=Flaws)
    strict_persist: bool = True
    #: The members that vote (default: all); the others are learners.
    voters: set[int] | None = None

    def __post_init__(self) -> None:
        members = frozenset(self.ids)
        self.config = PaxosConfig(
            id=self.ids[0],
            members=members,
            election_tick=self.election_tick,
            probe=self.probe,
            check_quorum=self.check_quorum,
            max_batch=self.max_batch,
            flaws=self.flaws,
        )
        self.storages = {i: MemoryPaxosStorage() for i in self.ids}
        self.nodes: dict[int, PaxosNode | None] = {}
        self.machines: dict[int, KVStateMachine] = {}
        self.pool: list[Message] = []
        self.groups: dict[int, int] = {}
        self.invariants = PaxosInvariants(members)
        self.boots: Counter[int] = Counter()
        self.sent: Counter[str] = Counter()
        self.session: int | None = None
        self._next_payload = 0
        for node_id in self.ids:
            self.start(node_id)

    # -- nodes ----------------------------------------------------------------------------

    def start(self, node_id: int) -> PaxosNode:
        storage = self.storages[node_id]
        self.boots[node_id] += 1
        rng = random.Random(self.seed * 1_000_003 + node_id * 1009 + self.boots[node_id])
        voter = self.voters is None or node_id in self.voters
        node = PaxosNode(replace(self.config, id=node_id, voter=voter), storage, rng)
        self.nodes[node_id] = node
        snapshot = storage.snapshot()
        self.machines[node_id] = (
            KVStateMachine.restore(snapshot.data) if snapshot.data else KVStateMachine()
        )
        self.invariants.restarted(node_id, snapshot.index)
        self.process(node_id)
        return node

    def crash(self, node_id: int) -> None:
        self.nodes[node_id] = None
        self.machines.pop(node_id, None)

    def node(self, node_id: int) -> PaxosNode:
        node = self.nodes[node_id]
        assert node is not None, f"node {node_id} is down"
        return node

    def alive(self) -> dict[int, PaxosNode]:
        return {i: n for i, n in self.nodes.items() if n is not None}

    def leader(self) -> PaxosNode | None:
        leaders = [n for n in self.alive().values() if n.role is Role.LEADER]
        return max(leaders, key=lambda n: n.ballot) if leaders else None

    # -- the Ready loop -------------------------------------------------------------------

    def process(self, node_id: int) -> None:
        node = self.nodes[node_id]
        if node is None:
            return
        storage = self.storages[node_id]
        while node.has_ready():
            ready = node.ready()
            storage.persist(ready.promised, ready.slots, ready.snapshot)
            self.invariants.observe_persist(node_id, ready.promised, ready.slots)
            problems = persist_violations(ready, storage)
            if problems and self.strict_persist:
                raise InvariantViolation(f"persist before send: {problems[0]}")
            self.pool.extend(ready.messages)
            self.sent.update(type(m).__name__ for m in ready.messages)
            machine = self.machines[node_id]
            if ready.snapshot is not None:
                machine = KVStateMachine.restore(ready.snapshot.data)
                self.machines[node_id] = machine
                self.invariants.restarted(node_id, ready.snapshot.index)
            for entry in ready.committed:
                self.invariants.observe_apply(node_id, entry)
                if entry.value:
                    reply = machine.apply(entry.slot, entry.value)
                    if entry.value == encode_payload(OpenSession()) and self.session is None:
                        assert isinstance(reply.value, int)
                        self.session = reply.value
            node.advance(ready)

    def compact(self, node_id: int) -> bool:
        node = self.nodes[node_id]
        if node is None or node.applied_index <= node.snapshot.index:
            return False
        snapshot = Snapshot(node.applied_index, self.machines[node_id].snapshot())
        self.storages[node_id].compact(snapshot)
        node.compact(snapshot)
        return True

    # -- time and clients -----------------------------------------------------------------

    def campaign(self, node_id: int) -> None:
        self.node(node_id).campaign()
        self.process(node_id)

    def elect(self, node_id: int, rounds: int = 20) -> PaxosNode:
        for _ in range(rounds):
            node = self.node(node_id)
            if node.is_leader and not node.status().in_flight:
                return node
            if not node.is_leader:
                self.campaign(node_id)
            self.deliver_all()
        raise AssertionError(f"node {node_id} did not become leader: {self.node(node_id).status()}")

    def propose(self, node_id: int, data: bytes | None = None) -> int | None:
        node = self.nodes[node_id]
        if node is None:
            return None
        try:
            index = node.propose(self.next_payload() if data is None else data)
        except ProposalRejected:
            return None
        self.process(node_id)
        return index

    # -- checks ---------------------------------------------------------------------------

    def check(self) -> None:
        self.invariants.check(self.storages)
        by_applied: dict[int, tuple[int, str]] = {}
        for node_id, node in self.alive().items():
            digest = self.machines[node_id].digest()
            known = by_applied.setdefault(node.applied_index, (node_id, digest))
            if known[1] != digest:
                raise InvariantViolation(
                    f"state machines of nodes {node_id} and {known[0]} differ at applied slot "
                    f"{node.applied_index}"
                )
