"""The Hypothesis schedule both Multi-Paxos's and Zab's stateful tests explore.

:class:`ScheduleMachine` holds every event the two share: which pooled message is delivered
(any reordering), dropped or duplicated, which node ticks, crashes (losing its volatile state)
or restarts from its storage, partitions and heals, proposals and compaction; after each step
the cluster checks its invariants. A protocol's machine adds an ``@initialize`` that builds its
cluster, and its own events (Multi-Paxos's ``campaign``).
"""

from __future__ import annotations

from typing import Any, Protocol

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

IDS = [1, 2, 3]
NODES = st.sampled_from(IDS)
POSITIONS = st.integers(min_value=0, max_value=10_000)

SETTINGS = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
#: The ``slow`` variant: longer schedules, many more of them.
LONG_SETTINGS = settings(SETTINGS, max_examples=2000, stateful_step_count=150)


class ScheduledCluster(Protocol):
    pool: list[Any]
    nodes: dict[int, Any]

    def deliver_at(self, position: int) -> None: ...
    def deliver_all(self, max_messages: int = ...) -> int: ...
    def partition(self, *groups: list[int]) -> None: ...
    def heal(self) -> None: ...
    def tick(self, node_id: int, times: int = ...) -> None: ...
    def tick_all(self, times: int = ...) -> None: ...
    def crash(self, node_id: int) -> None: ...
    def start(self, node_id: int) -> Any: ...
    def propose(self, node_id: int, data: bytes | None = ...) -> Any: ...
    def leader(self) -> Any: ...
    def compact(self, node_id: int) -> bool: ...
    def check(self) -> None: ...


class ScheduleMachine(RuleBasedStateMachine):
    cluster: ScheduledCluster

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
    def invariants_hold(self) -> None:
        self.cluster.check()
