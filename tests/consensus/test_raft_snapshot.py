"""Snapshots and log compaction: InstallSnapshot for a follower behind the compaction point."""

from __future__ import annotations

import pytest

from archlab.consensus.raft import InstallSnapshot, RaftConfig
from tests.consensus.cluster import Cluster


def lagging_cluster() -> Cluster:
    """Node 3 is down while 30 entries commit; nodes 1 and 2 then compact their logs."""
    cluster = Cluster([1, 2, 3], config=RaftConfig(id=1, election_tick=5))
    cluster.elect(1)
    cluster.crash(3)
    for _ in range(30):
        cluster.propose(1)
    cluster.deliver_all()
    assert cluster.compact(1) and cluster.compact(2)
    assert cluster.storages[1].first_index() == 32
    cluster.check()
    return cluster


class TestInstallSnapshot:
    def test_a_follower_behind_the_compaction_point_installs_the_snapshot(self) -> None:
        cluster = lagging_cluster()
        cluster.start(3)
        for _ in range(10):
            cluster.tick(1)
            cluster.deliver_all()
        cluster.check()
        assert cluster.sent["InstallSnapshot"] == 1
        follower = cluster.storages[3]
        assert follower.snapshot().index == 31 and follower.last_index() >= 31
        assert cluster.machines[3].digest() == cluster.machines[1].digest()
        assert cluster.node(3).applied_index == cluster.node(1).applied_index

    def test_new_entries_follow_the_snapshot(self) -> None:
        cluster = lagging_cluster()
        cluster.start(3)
        for _ in range(3):
            cluster.tick(1)
            cluster.deliver_all()
        for _ in range(5):
            cluster.propose(1)
        cluster.deliver_all()
        cluster.check()
        assert cluster.node(3).commit_index == 36
        assert cluster.machines[3].digest() == cluster.machines[1].digest()

    def test_a_lost_snapshot_is_sent_again(self) -> None:
        cluster = lagging_cluster()
        cluster.start(3)
        dropped = 0
        for _ in range(20):
            cluster.tick(1)
            while cluster.pool:
                message = cluster.pool.pop(0)
                if isinstance(message, InstallSnapshot) and not dropped:
                    dropped = 1  # the network loses the first snapshot
                    continue
                cluster.deliver(message)
        cluster.check()
        assert dropped == 1 and cluster.sent["InstallSnapshot"] == 2
        assert cluster.storages[3].snapshot().index == 31

    def test_a_restarted_node_recovers_from_its_own_snapshot(self) -> None:
        cluster = lagging_cluster()
        digest = cluster.machines[2].digest()
        cluster.restart(2)
        assert cluster.machines[2].digest() == digest
        assert cluster.node(2).applied_index == 31
        cluster.check()

    def test_a_snapshot_needs_an_applied_index(self) -> None:
        cluster = Cluster([1, 2, 3])
        leader = cluster.elect(1)
        with pytest.raises(ValueError, match="applied"):
            leader.snapshot_metadata(leader.applied_index + 1)
        assert cluster.compact(1)
        with pytest.raises(ValueError, match="compacted"):
            leader.snapshot_metadata(0)
