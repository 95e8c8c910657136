"""Hypothesis stateful tests: Raft under arbitrary schedules keeps the paper's invariants.

Hypothesis picks every event: which pooled message is delivered (so any reordering), dropped or
duplicated, which node ticks or times out, crashes (losing volatile state) or restarts from its
storage, partitions and heals, proposals, ReadIndex reads, single-server membership changes
(a fourth server can be added and any member removed), and log compaction. After every step the
cluster checks election safety, log matching, leader completeness, state machine safety,
durability of committed entries on persisted state, ReadIndex linearizability and the
persist-before-send rule (see ``invariants.py``).

A lease variant drives all clocks in lockstep (the lease's bounded-drift assumption with zero
drift) and checks the same read property for lease reads.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from archlab.consensus.raft import ConfChange, ConfChangeKind, RaftConfig, ReadMode, Role
from tests.consensus.cluster import Cluster

INITIAL = [1, 2, 3]
UNIVERSE = [1, 2, 3, 4]
NODES = st.sampled_from(UNIVERSE)
POSITIONS = st.integers(min_value=0, max_value=10_000)


class RaftMachine(RuleBasedStateMachine):
    """A 3-node cluster (plus a spare fourth server) under a hypothesis-chosen schedule."""

    read_mode = ReadMode.READ_INDEX

    def __init__(self) -> None:
        super().__init__()
        self.cluster: Cluster

    @initialize(seed=st.integers(min_value=0, max_value=2**16), pre_vote=st.booleans())
    def setup(self, seed: int, pre_vote: bool) -> None:
        config = RaftConfig(
            id=1,
            election_tick=3,
            heartbeat_tick=1,
            pre_vote=pre_vote or self.read_mode is ReadMode.LEASE,
            max_entries_per_msg=2,
            max_inflight=3,
            read_mode=self.read_mode,
            max_clock_drift=0.0,
        )
        self.cluster = Cluster(list(INITIAL), config=config, seed=seed)
        self.cluster.add_node(4)

    # -- network ---------------------------------------------------------------------------

    @precondition(lambda self: bool(self.cluster.pool))
    @rule(position=POSITIONS)
    def deliver(self, position: int) -> None:
        self.cluster.deliver_at(position % len(self.cluster.pool))

    @precondition(lambda self: bool(self.cluster.pool))
    @rule(count=st.integers(min_value=1, max_value=30))
    def deliver_in_order(self, count: int) -> None:
        for _ in range(min(count, len(self.cluster.pool))):
            self.cluster.deliver_at(0)

    @rule()
    def settle(self) -> None:
        """Deliver everything in flight, and what that sends, in order."""
        self.cluster.deliver_all(max_messages=300)

    @precondition(lambda self: bool(self.cluster.pool))
    @rule(position=POSITIONS)
    def drop(self, position: int) -> None:
        self.cluster.pool.pop(position % len(self.cluster.pool))

    @precondition(lambda self: bool(self.cluster.pool))
    @rule(position=POSITIONS)
    def duplicate(self, position: int) -> None:
        self.cluster.pool.append(self.cluster.pool[position % len(self.cluster.pool)])

    @rule(minority=st.lists(NODES, min_size=1, max_size=2, unique=True))
    def partition(self, minority: list[int]) -> None:
        rest = [n for n in UNIVERSE if n not in minority]
        self.cluster.partition(minority, rest)

    @rule()
    def heal(self) -> None:
        self.cluster.heal()

    # -- time ------------------------------------------------------------------------------

    def _tick(self, node: int) -> None:
        self.cluster.tick(node)

    @rule(node=NODES)
    def tick(self, node: int) -> None:
        self._tick(node)

    @rule(times=st.integers(min_value=1, max_value=4))
    def tick_all(self, times: int) -> None:
        self.cluster.tick_all(times)

    @rule(node=NODES)
    def time_out(self, node: int) -> None:
        """Tick one node until its election timer fires (it campaigns, if it may)."""
        if self.read_mode is ReadMode.LEASE:
            self.cluster.tick_all(6)
            return
        for _ in range(6):
            current = self.cluster.nodes[node]
            if current is None or current.role in (Role.PRE_CANDIDATE, Role.CANDIDATE):
                return
            self._tick(node)

    @rule(node=NODES)
    def campaign(self, node: int) -> None:
        """A node's timer fires and the election runs to completion (if the network allows)."""
        if self.cluster.nodes[node] is not None:
            self.cluster.campaign(node)
            self.cluster.deliver_all(max_messages=300)

    # -- faults ----------------------------------------------------------------------------

    @rule(node=NODES)
    def crash(self, node: int) -> None:
        self.cluster.crash(node)

    @rule(node=NODES)
    def restart(self, node: int) -> None:
        if self.cluster.nodes[node] is None:
            self.cluster.start(node)

    # -- clients ---------------------------------------------------------------------------

    @rule(node=NODES, count=st.integers(min_value=1, max_value=4))
    def propose(self, node: int, count: int) -> None:
        for _ in range(count):
            self.cluster.propose(node)

    @rule(count=st.integers(min_value=1, max_value=6))
    def propose_at_leader(self, count: int) -> None:
        """A client that found the leader: proposals there, then the network runs."""
        leader = self.cluster.leader()
        if leader is not None:
            for _ in range(count):
                self.cluster.propose(leader.id)
            self.cluster.deliver_all(max_messages=300)

    @rule(node=NODES)
    def read(self, node: int) -> None:
        self.cluster.read(node)

    @rule(node=NODES, member=NODES, kind=st.sampled_from(list(ConfChangeKind)))
    def change_membership(self, node: int, member: int, kind: ConfChangeKind) -> None:
        self.cluster.propose_conf_change(node, ConfChange(kind, member))

    @rule(node=NODES)
    def compact(self, node: int) -> None:
        if self.cluster.nodes[node] is not None:
            self.cluster.compact(node)

    # -- the properties --------------------------------------------------------------------

    @invariant()
    def raft_invariants_hold(self) -> None:
        self.cluster.check()


class LeaseRaftMachine(RaftMachine):
    """Lease reads, with every clock ticking in lockstep (no drift)."""

    read_mode = ReadMode.LEASE

    @rule(node=NODES)
    def tick(self, node: int) -> None:
        self.cluster.tick_all(1)


SETTINGS = settings(
    max_examples=400,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

TestRaftInvariants = RaftMachine.TestCase
TestRaftInvariants.settings = SETTINGS
TestLeaseReads = LeaseRaftMachine.TestCase
TestLeaseReads.settings = settings(SETTINGS, max_examples=150)


class LongRaftMachine(RaftMachine):
    pass


TestRaftInvariantsLong = pytest.mark.slow(LongRaftMachine.TestCase)
TestRaftInvariantsLong.settings = settings(SETTINGS, max_examples=2000, stateful_step_count=150)
