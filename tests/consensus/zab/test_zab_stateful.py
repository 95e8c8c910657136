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
from hypothesis import strategies as st
from hypothesis.stateful import initialize

from tests.consensus.schedules import IDS, LONG_SETTINGS, SETTINGS, ScheduleMachine
from tests.consensus.zab.cluster import ZabCluster


class ZabMachine(ScheduleMachine):
    cluster: ZabCluster

    @initialize(seed=st.integers(0, 2**16), max_batch=st.sampled_from([1, 3]))
    def setup(self, seed: int, max_batch: int) -> None:
        self.cluster = ZabCluster(list(IDS), seed=seed, election_tick=3, max_batch=max_batch)


TestZabInvariants = ZabMachine.TestCase
TestZabInvariants.settings = SETTINGS


class LongZabMachine(ZabMachine):
    pass


TestZabInvariantsLong = pytest.mark.slow(LongZabMachine.TestCase)
TestZabInvariantsLong.settings = LONG_SETTINGS
