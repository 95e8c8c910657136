"""A deterministic in-test Raft cluster: N sans-IO nodes, a message pool, crashes and partitions.

Tests (and the Hypothesis state machine) drive every event by hand: which message is delivered,
dropped or duplicated, which node ticks, crashes, restarts or is partitioned away. Each node is a
:class:`RaftNode` over a :class:`MemoryStorage` that survives its crash (the "disk"); its
volatile state — the node object, its unpersisted entries, its key-value state machine — is
lost. After every node's Ready the cluster persists, checks the persist-before-send rule, puts
the messages in the pool, applies committed entries to the node's :class:`KVStateMachine`, and
serves released reads; :meth:`Cluster.check` runs :class:`RaftInvariants`.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from archlab.consensus.client import Command, OpenSession, Payload, Write, encode_payload
from archlab.consensus.kv import KVStateMachine
from archlab.consensus.raft import (
    ConfChange,
    ConfState,
    EntryKind,
    MemoryStorage,
    Message,
    ProposalRejected,
    RaftConfig,
    RaftNode,
    Ready,
    Role,
    Snapshot,
    persist_violations,
)
from tests.consensus.invariants import InvariantViolation, RaftInvariants


@dataclass
class PendingRead:
    node: int
    floor: int
    index: int | None = None


@dataclass
class Cluster:
    """N Raft nodes wired to a hand-driven network."""

    ids: list[int]
    config: RaftConfig = field(default_factory=lambda: RaftConfig(id=1))
    seed: int = 0
    #: Raise on a Ready whose messages promise state the storage does not hold.
    strict_persist: bool = True
    #: Compact a node's storage once this many applied entries sit above its snapshot.
    compact_every: int | None = None

    def __post_init__(self) -> None:
        conf = ConfState.of(self.ids)
        self.storages: dict[int, MemoryStorage] = {i: MemoryStorage(conf) for i in self.ids}
        self.nodes: dict[int, RaftNode | None] = {}
        self.machines: dict[int, KVStateMachine] = {}
        self.pool: list[Message] = []
        self.groups: dict[int, int] = {}
        self.invariants = RaftInvariants(initial_conf=conf)
        self.reads: dict[bytes, PendingRead] = {}
        self.served_reads: list[tuple[int, int]] = []
        self.persist_problems: list[str] = []
        self.boots: dict[int, int] = {}
        self.delivered = 0
        #: Messages sent, by type name (what a Ready handed over), for tests that count them.
        self.sent: Counter[str] = Counter()
        self._next_context = 0
        self._next_payload = 0
        self.session: int | None = None
        for node_id in self.ids:
            self.start(node_id)

    # -- nodes ----------------------------------------------------------------------------

    def node_config(self, node_id: int) -> RaftConfig:
        return replace(self.config, id=node_id)

    def start(self, node_id: int) -> RaftNode:
        storage = self.storages.setdefault(node_id, MemoryStorage())
        boots = self.boots.get(node_id, 0)
        self.boots[node_id] = boots + 1
        rng = random.Random(self.seed * 1_000_003 + node_id * 1009 + boots)
        node = RaftNode(self.node_config(node_id), storage, rng)
        self.nodes[node_id] = node
        snapshot = storage.snapshot()
        self.machines[node_id] = (
            KVStateMachine.restore(snapshot.data) if snapshot.data else KVStateMachine()
        )
        self.process(node_id)
        return node

    def add_node(self, node_id: int) -> RaftNode:
        """A brand-new server (empty storage, no configuration) ready to be added."""
        if node_id not in self.ids:
            self.ids.append(node_id)
        return self.start(node_id)

    def crash(self, node_id: int) -> None:
        """Lose everything volatile; the storage stays."""
        self.nodes[node_id] = None
        self.machines.pop(node_id, None)
        for context in [c for c, r in self.reads.items() if r.node == node_id]:
            del self.reads[context]

    def restart(self, node_id: int) -> RaftNode:
        self.crash(node_id)
        return self.start(node_id)

    def node(self, node_id: int) -> RaftNode:
        node = self.nodes[node_id]
        assert node is not None, f"node {node_id} is down"
        return node

    def alive(self) -> dict[int, RaftNode]:
        return {i: n for i, n in self.nodes.items() if n is not None}

    def leaders(self) -> list[RaftNode]:
        return [n for n in self.alive().values() if n.role is Role.LEADER]

    def leader(self) -> RaftNode | None:
        """The leader of the highest term among live leaders, if any."""
        leaders = self.leaders()
        return max(leaders, key=lambda n: n.term) if leaders else None

    # -- the Ready loop -------------------------------------------------------------------

    def process(self, node_id: int) -> None:
        node = self.nodes[node_id]
        if node is None:
            return
        storage = self.storages[node_id]
        while node.has_ready():
            ready = node.ready()
            storage.persist(ready.hard_state, ready.entries, ready.snapshot)
            problems = persist_violations(ready, storage)
            if problems:
                self.persist_problems.extend(problems)
                if self.strict_persist:
                    raise InvariantViolation(f"persist before send: {problems[0]}")
            self.pool.extend(ready.messages)
            self.sent.update(type(m).__name__ for m in ready.messages)
            self._apply(node_id, ready)
            node.advance(ready)
        self._serve_reads(node_id)
        self._maybe_compact(node_id)

    def _apply(self, node_id: int, ready: Ready) -> None:
        machine = self.machines[node_id]
        if ready.snapshot is not None:
            data = ready.snapshot.data
            machine = KVStateMachine.restore(data) if data else KVStateMachine()
            self.machines[node_id] = machine
        for entry in ready.committed_entries:
            self.invariants.observe_apply(node_id, entry)
            if entry.kind is EntryKind.NORMAL and entry.data:
                reply = machine.apply(entry.index, entry.data)
                if entry.data == encode_payload(OpenSession()) and self.session is None:
                    assert isinstance(reply.value, int)
                    self.session = reply.value
        for read in ready.read_states:
            pending = self.reads.get(read.context)
            if pending is None or pending.node != node_id:
                continue
            self.invariants.check_read(node_id, read.index, pending.floor, self.max_commit())
            pending.index = read.index

    def _serve_reads(self, node_id: int) -> None:
        node = self.nodes[node_id]
        assert node is not None
        for context, pending in list(self.reads.items()):
            index = pending.index
            if pending.node == node_id and index is not None and node.applied_index >= index:
                self.served_reads.append((node_id, index))
                del self.reads[context]

    def _maybe_compact(self, node_id: int) -> None:
        if self.compact_every is None:
            return
        self.compact(node_id, keep_above=self.compact_every)

    def compact(self, node_id: int, keep_above: int = 0) -> bool:
        """Snapshot the node's state machine at its applied index and drop the log before it."""
        node = self.node(node_id)
        storage = self.storages[node_id]
        applied = node.applied_index
        if applied - storage.snapshot().index <= keep_above:
            return False
        metadata = node.snapshot_metadata(applied)
        storage.compact(Snapshot(metadata, self.machines[node_id].snapshot()))
        return True

    # -- network --------------------------------------------------------------------------

    def connected(self, a: int, b: int) -> bool:
        return self.groups.get(a, 0) == self.groups.get(b, 0)

    def partition(self, *groups: list[int]) -> None:
        self.groups = {node: number for number, group in enumerate(groups) for node in group}

    def heal(self) -> None:
        self.groups = {}

    def deliver_at(self, position: int) -> None:
        message = self.pool.pop(position)
        self.deliver(message)

    def deliver(self, message: Message) -> None:
        node = self.nodes.get(message.dst)
        if node is None or not self.connected(message.src, message.dst):
            return
        self.delivered += 1
        node.step(message)
        self.process(message.dst)

    def deliver_where(self, predicate: Callable[[Message], bool], limit: int = 10_000) -> int:
        """Deliver matching messages, including those sent meanwhile, until none is left."""
        count = 0
        while count < limit:
            position = next((i for i, m in enumerate(self.pool) if predicate(m)), None)
            if position is None:
                break
            self.deliver_at(position)
            count += 1
        return count

    def drop_where(self, predicate: Callable[[Message], bool]) -> int:
        before = len(self.pool)
        self.pool = [m for m in self.pool if not predicate(m)]
        return before - len(self.pool)

    def deliver_all(self, max_messages: int = 100_000) -> int:
        """Deliver until the pool is empty (messages sent meanwhile included)."""
        count = 0
        while self.pool and count < max_messages:
            self.deliver_at(0)
            count += 1
        return count

    # -- time and clients -----------------------------------------------------------------

    def tick(self, node_id: int, times: int = 1) -> None:
        for _ in range(times):
            node = self.nodes[node_id]
            if node is None:
                return
            node.tick()
            self.process(node_id)

    def tick_all(self, times: int = 1) -> None:
        for _ in range(times):
            for node_id in list(self.nodes):
                self.tick(node_id)

    def campaign(self, node_id: int) -> None:
        self.node(node_id).campaign()
        self.process(node_id)

    def elect(self, node_id: int, max_rounds: int = 50) -> RaftNode:
        """Make ``node_id`` leader: campaign, deliver everything, until it leads."""
        for _ in range(max_rounds):
            node = self.node(node_id)
            if node.is_leader and node.commit_index >= node.log.last_index():
                return node
            if not node.is_leader:
                self.campaign(node_id)
            self.deliver_all()
        raise AssertionError(f"node {node_id} did not become leader: {self.node(node_id).status()}")

    def next_payload(self, key: str | None = None) -> bytes:
        self._next_payload += 1
        payload: Payload
        if self.session is None:
            payload = OpenSession()
        else:
            key = key or f"k{self._next_payload % 3}"
            payload = Command(self.session, self._next_payload, Write(key, self._next_payload))
        return encode_payload(payload)

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

    def propose_conf_change(self, node_id: int, change: ConfChange) -> int | None:
        node = self.nodes[node_id]
        if node is None:
            return None
        try:
            index = node.propose_conf_change(change)
        except (ProposalRejected, ValueError):
            return None
        self.process(node_id)
        return index

    def read(self, node_id: int) -> bytes | None:
        node = self.nodes[node_id]
        if node is None:
            return None
        self._next_context += 1
        context = f"read-{self._next_context}".encode()
        try:
            node.read_index(context)
        except ProposalRejected:
            return None
        self.reads[context] = PendingRead(node_id, floor=self.max_commit())
        self.process(node_id)
        return context

    # -- checks ---------------------------------------------------------------------------

    def max_commit(self) -> int:
        """The highest index known committed anywhere, now."""
        live = max((n.commit_index for n in self.alive().values()), default=0)
        return max(self.invariants.max_commit, live)

    def check(self) -> None:
        self.invariants.check(self.alive(), self.storages)
        self._check_state_machines()

    def _check_state_machines(self) -> None:
        """Replicas that applied the same prefix hold byte-identical state."""
        by_index: dict[int, tuple[int, str]] = {}
        for node_id, node in self.alive().items():
            machine = self.machines[node_id]
            applied = node.applied_index
            digest = machine.digest()
            if applied in by_index and by_index[applied][1] != digest:
                other = by_index[applied][0]
                # Equal Raft applied indexes: the state machines must be equal too.
                raise InvariantViolation(
                    f"state machines of nodes {node_id} and {other} differ at applied index "
                    f"{applied}"
                )
            by_index.setdefault(applied, (node_id, digest))
