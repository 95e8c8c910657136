"""Hypothesis stateful tests: Zab under arbitrary schedules keeps primary order and agreement.

Hypothesis picks every event (deliveries in any order, drops, duplicates, ticks, crashes,
restarts, partitions, proposals, compaction). After every step the cluster checks, over
everything delivered so far: agreement on delivered prefixes (one transaction per position,
snapshots included), local and global primary order, primary integrity, at most one leader
established per epoch, every delivered transaction still durable on a quorum, equal state
machines at equal positions, and persist-before-send.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.consensus.zab.cluster import ZabCluster

IDS = [1, 2, 3]
NODES = st.sampled_from(IDS)
POSITIONS = st.integers(min_value=0, max_value=10_000)


class ZabMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.cluster: ZabCluster

    @initialize(seed=st.integers(0, 2**16), max_batch=st.sampled_from([1, 3]))
    def setup(self, seed: int, max_batch: int) -> None:
        self.cluster = ZabCluster(list(IDS), seed=seed, election_tick=3, max_batch=max_batch)

    @precondition(lambda self: bool(self.cluster.pool))
    @rule(position=POSITIONS)
    def deliver(self, position: int) -> None:
        self.cluster.deliver_at(position % len(self.cluster.pool))

    @rule()
    def settle(self) -> None:
        self.cluster.deliver_all(max_messages=200)

    @precondition(lambda self: bool(self.cluster.pool))
    @rule(position=POSITIONS)
    def drop(self, position: int) -> None:
        self.cluster.pool.pop(position % len(self.cluster.pool))

    @precondition(lambda self: bool(self.cluster.pool))
    @rule(position=POSITIONS)
    def duplicate(self, position: int) -> None:
        self.cluster.pool.append(self.cluster.pool[position % len(self.cluster.pool)])

    @rule(minority=NODES)
    def partition(self, minority: int) -> None:
        self.cluster.partition([minority], [n for n in IDS if n != minority])

    @rule()
    def heal(self) -> None:
        self.cluster.heal()

    @rule(node=NODES)
    def tick(self, node: int) -> None:
        self.cluster.tick(node)

    @rule(times=st.integers(1, 4))
    def tick_all(self, times: int) -> None:
        self.cluster.tick_all(times)

    @rule(node=NODES)
    def crash(self, node: int) -> None:
        self.cluster.crash(node)

    @rule(node=NODES)
    def restart(self, node: int) -> None:
        if self.cluster.nodes[node] is None:
            self.cluster.start(node)

    @rule(node=NODES, count=st.integers(1, 3))
    def propose(self, node: int, count: int) -> None:
        for _ in range(count):
            self.cluster.propose(node)

    @rule(count=st.integers(1, 4))
    def propose_at_leader(self, count: int) -> None:
        leader = self.cluster.leader()
        if leader is not None:
            for _ in range(count):
                self.cluster.propose(leader.id)
            self.cluster.deliver_all(max_messages=200)

    @rule(node=NODES)
    def compact(self, node: int) -> None:
        self.cluster.compact(node)

    @invariant()
    def zab_invariants_hold(self) -> None:
        self.cluster.check()


SETTINGS = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestZabInvariants = ZabMachine.TestCase
TestZabInvariants.settings = SETTINGS


class LongZabMachine(ZabMachine):
    pass


TestZabInvariantsLong = pytest.mark.slow(LongZabMachine.TestCase)
TestZabInvariantsLong.settings = settings(SETTINGS, max_examples=2000, stateful_step_count=150)
