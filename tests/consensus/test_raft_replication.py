"""Log replication: commit and apply, repair after loss, flow control, fast backtracking."""

from __future__ import annotations

import pytest

from archlab.consensus.raft import (
    AppendEntries,
    AppendResponse,
    ConfState,
    Entry,
    HardState,
    MemoryStorage,
    ProposalRejected,
    RaftConfig,
)
from tests.consensus.cluster import Cluster


class TestCommitAndApply:
    def test_entries_commit_and_apply_in_the_same_order_everywhere(self) -> None:
        cluster = Cluster([1, 2, 3, 4, 5])
        cluster.elect(3)
        indexes = [cluster.propose(3) for _ in range(20)]
        cluster.deliver_all()
        cluster.check()
        assert indexes == list(range(2, 22))
        for node in cluster.alive().values():
            assert node.commit_index == node.applied_index == 21
        digests = {cluster.machines[i].digest() for i in cluster.alive()}
        assert len(digests) == 1

    def test_a_follower_rejects_proposals_and_names_the_leader(self) -> None:
        cluster = Cluster([1, 2, 3])
        cluster.elect(2)
        with pytest.raises(ProposalRejected) as info:
            cluster.node(1).propose(b"x")
        assert info.value.leader == 2

    def test_proposals_between_two_readies_travel_in_one_message_per_follower(self) -> None:
        cluster = Cluster([1, 2, 3])
        leader = cluster.elect(1)
        for n in range(5):
            leader.propose(f"p{n}".encode())
        ready = leader.ready()
        appends = [m for m in ready.messages if isinstance(m, AppendEntries)]
        assert sorted(m.dst for m in appends) == [2, 3]
        assert all(len(m.entries) == 5 for m in appends)
        cluster.storages[1].persist(ready.hard_state, ready.entries, ready.snapshot)
        cluster.pool.extend(ready.messages)
        leader.advance(ready)
        cluster.deliver_all()
        cluster.check()
        assert leader.commit_index == 6

    def test_every_node_crashing_loses_no_committed_entry(self) -> None:
        cluster = Cluster([1, 2, 3])
        cluster.elect(1)
        for _ in range(10):
            cluster.propose(1)
        cluster.deliver_all()
        before = {i: cluster.machines[i].digest() for i in cluster.ids}
        for node_id in cluster.ids:
            cluster.crash(node_id)
        for node_id in cluster.ids:
            cluster.start(node_id)
        # Committed entries are re-applied from storage on restart (commit is in the hard state).
        assert {i: cluster.machines[i].digest() for i in cluster.ids} == before
        cluster.elect(2)
        cluster.check()
        assert cluster.node(2).log.last_index() == 12


class TestRepair:
    def test_lost_appends_are_resent_after_heartbeats(self) -> None:
        cluster = Cluster([1, 2, 3], config=RaftConfig(id=1, max_entries_per_msg=3))
        cluster.elect(1)
        for _ in range(10):
            cluster.propose(1)
        cluster.drop_where(lambda m: isinstance(m, AppendEntries))
        for _ in range(6):
            cluster.tick(1)
            cluster.deliver_all()
        cluster.check()
        assert all(n.commit_index == 11 for n in cluster.alive().values())

    def test_duplicated_and_reordered_messages_are_harmless(self) -> None:
        cluster = Cluster([1, 2, 3], config=RaftConfig(id=1, max_entries_per_msg=1))
        cluster.elect(1)
        for _ in range(8):
            cluster.propose(1)
        cluster.pool = list(reversed(cluster.pool + cluster.pool))
        for _ in range(5):
            cluster.deliver_all()
            cluster.tick(1)
        cluster.check()
        assert all(n.commit_index == 9 for n in cluster.alive().values())

    def test_inflight_window_bounds_unacknowledged_appends(self) -> None:
        config = RaftConfig(id=1, max_entries_per_msg=1, max_inflight=2)
        cluster = Cluster([1, 2, 3], config=config)
        cluster.elect(1)
        for _ in range(10):
            cluster.propose(1)
        to_2 = [m for m in cluster.pool if isinstance(m, AppendEntries) and m.dst == 2]
        assert len(to_2) == 2
        cluster.deliver_all()
        cluster.check()
        assert cluster.node(2).commit_index == 11


def divergent_cluster(
    leader_terms: list[tuple[int, int]], follower_terms: list[tuple[int, int]], common: int
) -> Cluster:
    """Node 1 (and 3) hold ``common`` entries of term 1 then ``leader_terms`` runs
    ``(term, count)``; node 2 holds the same prefix then ``follower_terms`` runs."""

    def build(runs: list[tuple[int, int]]) -> MemoryStorage:
        storage = MemoryStorage(ConfState.of([1, 2, 3]))
        entries = [Entry(1, i, f"c{i}".encode()) for i in range(1, common + 1)]
        for term, count in runs:
            start = len(entries) + 1
            entries += [
                Entry(term, i, f"t{term}i{i}".encode()) for i in range(start, start + count)
            ]
        storage.append(entries)
        top = max(term for term, _ in runs)
        storage.set_hard_state(HardState(term=top, vote=None, commit=common))
        return storage

    cluster = Cluster([1, 2, 3], config=RaftConfig(id=1, pre_vote=False, check_quorum=False))
    cluster.storages[1] = build(leader_terms)
    cluster.storages[3] = build(leader_terms)
    cluster.storages[2] = build(follower_terms)
    for node_id in (1, 2, 3):
        cluster.restart(node_id)
    return cluster


def round_trips_to_repair(cluster: Cluster) -> int:
    """Elect node 1 and count node 2's rejections until its log matches the leader's."""
    cluster.campaign(1)
    cluster.deliver_where(lambda m: m.dst != 2 and m.src != 2)
    assert cluster.node(1).is_leader
    rejections = 0
    for _ in range(10_000):
        if not cluster.pool:
            break
        message = cluster.pool.pop(0)
        if isinstance(message, AppendResponse) and message.src == 2 and message.reject:
            rejections += 1
        cluster.deliver(message)
    cluster.check()
    leader, follower = cluster.node(1), cluster.node(2)
    assert follower.log.last_index() == leader.log.last_index()
    assert follower.log.last_term() == leader.log.last_term()
    return rejections


class TestFastBacktracking:
    def test_one_long_conflicting_term_costs_a_couple_of_round_trips(self) -> None:
        # 290 conflicting entries of term 2 on the follower, 90 of term 3 on the leader.
        cluster = divergent_cluster([(3, 90)], [(2, 290)], common=10)
        rejections = round_trips_to_repair(cluster)
        assert rejections <= 2, rejections

    def test_round_trips_grow_with_conflicting_terms_not_entries(self) -> None:
        # The follower holds 12 short terms (2, 4, ... 24) of 25 entries, the leader 12 others.
        follower = [(t, 25) for t in range(2, 26, 2)]
        leader = [(t, 20) for t in range(3, 27, 2)]
        cluster = divergent_cluster(leader, follower, common=5)
        rejections = round_trips_to_repair(cluster)
        conflicting_terms = len(follower) + len(leader)
        assert rejections <= conflicting_terms + 2, rejections
        assert rejections < 300 / 10  # entry by entry would be ~300 round trips
