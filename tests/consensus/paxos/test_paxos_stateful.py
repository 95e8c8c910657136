"""Hypothesis stateful tests: Multi-Paxos under arbitrary schedules keeps its safety properties.

Hypothesis picks every event: which pooled message is delivered (any reordering), dropped or
duplicated, which node ticks, times out, campaigns, crashes (losing its volatile state) or
restarts from its storage, partitions and heals, proposals, compaction. After every step the
cluster checks, on everything persisted and applied so far: at most one value chosen per slot
(counted from durable acceptances), learners learn only the chosen value, promises never go
back, acceptances never go below the promise, replicas apply the same value at each slot and
in order, state machines agree at equal applied slots, and persist-before-send.
"""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import initialize, rule

from tests.consensus.paxos.cluster import PaxosCluster
from tests.consensus.schedules import IDS, LONG_SETTINGS, NODES, SETTINGS, ScheduleMachine


class PaxosMachine(ScheduleMachine):
    cluster: PaxosCluster

    @initialize(seed=st.integers(0, 2**16), probe=st.booleans(), check_quorum=st.booleans())
    def setup(self, seed: int, probe: bool, check_quorum: bool) -> None:
        self.cluster = PaxosCluster(
            list(IDS), seed=seed, election_tick=3, probe=probe, check_quorum=check_quorum
        )

    @rule(node=NODES)
    def campaign(self, node: int) -> None:
        if self.cluster.nodes[node] is not None:
            self.cluster.campaign(node)


TestPaxosInvariants = PaxosMachine.TestCase
TestPaxosInvariants.settings = SETTINGS


class LongPaxosMachine(PaxosMachine):
    pass


TestPaxosInvariantsLong = pytest.mark.slow(LongPaxosMachine.TestCase)
TestPaxosInvariantsLong.settings = LONG_SETTINGS
