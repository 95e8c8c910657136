"""Linearizable reads: ReadIndex on the leader and on followers, and leader leases."""

from __future__ import annotations

import pytest

from archlab.consensus.raft import (
    AppendEntries,
    Heartbeat,
    RaftConfig,
    ReadIndexRequest,
    ReadMode,
    Role,
)
from tests.consensus.cluster import Cluster
from tests.consensus.invariants import InvariantViolation


class TestReadIndex:
    def test_a_leader_read_waits_for_a_quorum_round_started_after_it(self) -> None:
        cluster = Cluster([1, 2, 3])
        cluster.elect(1)
        context = cluster.read(1)
        assert context is not None
        assert cluster.reads[context].index is None, "no majority confirmed leadership yet"
        assert any(isinstance(m, Heartbeat) for m in cluster.pool)
        cluster.deliver_all()
        assert context not in cluster.reads
        assert cluster.served_reads == [(1, 1)]

    def test_a_new_leader_defers_reads_until_its_noop_commits(self) -> None:
        cluster = Cluster([1, 2, 3], config=RaftConfig(id=1, check_quorum=False, pre_vote=False))
        cluster.elect(1)
        cluster.propose(1)
        cluster.deliver_all()
        cluster.campaign(2)
        cluster.deliver_where(lambda m: not isinstance(m, AppendEntries))
        assert cluster.node(2).is_leader and cluster.node(2).commit_index == 2
        context = cluster.read(2)
        assert context is not None
        cluster.deliver_where(lambda m: not isinstance(m, AppendEntries))
        assert cluster.reads[context].index is None
        cluster.deliver_all()
        assert cluster.served_reads == [(2, 3)], "served at the no-op's index"

    def test_a_follower_read_is_forwarded_and_served_locally(self) -> None:
        cluster = Cluster([1, 2, 3])
        cluster.elect(1)
        for _ in range(3):
            cluster.propose(1)
        cluster.deliver_all()
        context = cluster.read(3)
        assert context is not None
        assert any(isinstance(m, ReadIndexRequest) and m.src == 3 for m in cluster.pool)
        cluster.deliver_all()
        assert cluster.served_reads == [(3, 4)]
        cluster.check()

    def test_a_deposed_leader_never_serves_a_read(self) -> None:
        cluster = Cluster([1, 2, 3], config=RaftConfig(id=1, check_quorum=False, pre_vote=False))
        cluster.elect(1)
        cluster.partition([1], [2, 3])
        cluster.elect(2)
        cluster.propose(2)
        cluster.deliver_all()
        assert cluster.node(1).is_leader, "without check-quorum it does not know"
        context = cluster.read(1)
        assert context is not None
        for _ in range(20):
            cluster.tick(1)
            cluster.deliver_all()
        assert cluster.reads[context].index is None
        cluster.heal()
        cluster.tick(1)
        cluster.deliver_all()
        assert cluster.node(1).role is Role.FOLLOWER
        assert context not in [c for c, r in cluster.reads.items() if r.index is not None]
        cluster.check()

    def test_without_a_known_leader_a_read_is_refused(self) -> None:
        cluster = Cluster([1, 2, 3])
        assert cluster.read(1) is None


LEASE = RaftConfig(id=1, election_tick=10, read_mode=ReadMode.LEASE, max_clock_drift=0.0)


def leased_cluster() -> Cluster:
    cluster = Cluster([1, 2, 3], config=LEASE)
    cluster.tick_all(LEASE.election_tick)  # a booting node honours leases it may have granted
    cluster.elect(1)
    cluster.tick(1)  # a heartbeat round ...
    cluster.deliver_all()  # ... acknowledged by a majority: the lease starts
    return cluster


class TestLeases:
    def test_a_lease_read_needs_no_messages(self) -> None:
        cluster = leased_cluster()
        leader = cluster.node(1)
        leader.read_index(b"r")
        ready = leader.ready()
        assert [r.index for r in ready.read_states] == [leader.commit_index]
        assert not ready.messages
        leader.advance(ready)

    def test_an_expired_lease_falls_back_to_read_index(self) -> None:
        cluster = leased_cluster()
        cluster.partition([1, 2], [3])
        cluster.drop_where(lambda m: True)
        leader = cluster.node(1)
        for _ in range(LEASE.lease_ticks):
            leader.tick()  # heartbeats go out, nobody answers
        leader.read_index(b"r")
        ready = leader.ready()
        assert not ready.read_states
        assert any(isinstance(m, Heartbeat) for m in ready.messages)
        leader.advance(ready)

    def test_the_lease_is_safe_when_clocks_tick_together(self) -> None:
        cluster = leased_cluster()
        cluster.partition([1], [2, 3])
        for _ in range(40):
            cluster.tick_all()
            cluster.deliver_all()
            cluster.read(1)  # the old leader keeps trying to serve reads
            new = [n for n in cluster.leaders() if n.id != 1]
            if new:
                cluster.propose(new[0].id)
                cluster.deliver_all()
        assert any(n.id != 1 for n in cluster.leaders()), "the majority elected a new leader"
        cluster.check()

    def test_a_leader_whose_clock_runs_slow_serves_a_stale_read(self) -> None:
        # Drift beyond the lease's assumption: the old leader's clock stops while the others
        # run on, elect a new leader and commit a write. Its lease "still holds".
        cluster = leased_cluster()
        cluster.partition([1], [2, 3])
        for _ in range(40):
            cluster.tick(2)
            cluster.tick(3)
            cluster.deliver_all()
        new = next(n for n in cluster.leaders() if n.id != 1)
        cluster.propose(new.id)
        cluster.deliver_all()
        assert cluster.node(1).is_leader
        with pytest.raises(InvariantViolation, match="stale read"):
            cluster.read(1)

    def test_lease_length_follows_the_drift_bound(self) -> None:
        assert RaftConfig(id=1, election_tick=10, max_clock_drift=0.0).lease_ticks == 9
        assert RaftConfig(id=1, election_tick=10, max_clock_drift=0.01).lease_ticks == 8
        assert RaftConfig(id=1, election_tick=10, max_clock_drift=0.2).lease_ticks == 6
        with pytest.raises(ValueError, match="check_quorum"):
            RaftConfig(id=1, read_mode=ReadMode.LEASE, check_quorum=False)
