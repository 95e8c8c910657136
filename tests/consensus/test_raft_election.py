"""Leader election: randomized timeouts, pre-vote, check-quorum, votes and their persistence."""

from __future__ import annotations

import random

from archlab.consensus.raft import (
    AppendEntries,
    ConfState,
    Entry,
    MemoryStorage,
    RaftConfig,
    RaftNode,
    Role,
    VoteRequest,
    VoteResponse,
)
from tests.consensus.cluster import Cluster


def run_until_leader(cluster: Cluster, max_rounds: int = 200) -> RaftNode:
    for _ in range(max_rounds):
        cluster.tick_all()
        cluster.deliver_all()
        leader = cluster.leader()
        if leader is not None:
            return leader
    raise AssertionError("no leader elected")


class TestElection:
    def test_timeouts_elect_exactly_one_leader(self) -> None:
        cluster = Cluster([1, 2, 3, 4, 5], config=RaftConfig(id=1), seed=3)
        leader = run_until_leader(cluster)
        cluster.check()
        assert [n.id for n in cluster.leaders()] == [leader.id]
        assert all(n.leader == leader.id for n in cluster.alive().values())

    def test_randomized_timeouts_come_from_the_injected_rng(self) -> None:
        storage = MemoryStorage(ConfState.of([1, 2, 3]))

        def timeouts(seed: int, config: RaftConfig) -> list[int]:
            node = RaftNode(config, storage, random.Random(seed))
            found = []
            for _ in range(30):
                ticks = 0
                while node.role is Role.FOLLOWER:
                    node.tick()
                    ticks += 1
                found.append(ticks)
                node._become_follower(node.term, None)
            return found

        config = RaftConfig(id=1, election_tick=10)
        first, again = timeouts(7, config), timeouts(7, config)
        assert first == again, "same seed, same timeouts"
        assert timeouts(8, config) != first
        assert all(10 <= t <= 19 for t in first) and len(set(first)) > 3
        fixed = RaftConfig(id=1, election_tick=10, election_tick_max=10)
        assert set(timeouts(7, fixed)) == {10}

    def test_a_new_leader_appends_a_noop_of_its_term(self) -> None:
        cluster = Cluster([1, 2, 3])
        leader = cluster.elect(2)
        last = leader.log.entries(leader.log.last_index())[0]
        assert last.is_noop and last.term == leader.term
        assert leader.commit_index == last.index

    def test_a_vote_is_granted_once_per_term_and_only_to_an_up_to_date_log(self) -> None:
        storage = MemoryStorage(ConfState.of([1, 2, 3]))
        voter = RaftNode(RaftConfig(id=3, pre_vote=False), storage, random.Random(0))
        voter.step(VoteRequest(1, 3, term=1, last_index=0, last_term=0))
        voter.step(VoteRequest(2, 3, term=1, last_index=0, last_term=0))
        answers = [m for m in voter.ready().messages if isinstance(m, VoteResponse)]
        assert [(m.dst, m.granted) for m in answers] == [(1, True), (2, False)]

        storage = MemoryStorage(ConfState.of([1, 2, 3]))
        config = RaftConfig(id=3, pre_vote=False, check_quorum=False)
        voter = RaftNode(config, storage, random.Random(0))
        voter.step(AppendEntries(1, 3, 1, 0, 0, (Entry(1, 1, b"x"),), commit=0))
        ready = voter.ready()
        storage.persist(ready.hard_state, ready.entries, ready.snapshot)
        voter.advance(ready)
        # A candidate of a later term whose log lacks the voter's entry is refused ...
        voter.step(VoteRequest(2, 3, term=5, last_index=0, last_term=0))
        # ... and one whose log is as long and as recent gets the vote.
        voter.step(VoteRequest(1, 3, term=6, last_index=1, last_term=1))
        answers = [m for m in voter.ready().messages if isinstance(m, VoteResponse)]
        assert [(m.dst, m.term, m.granted) for m in answers] == [(2, 5, False), (1, 6, True)]

    def test_term_and_vote_survive_a_restart(self) -> None:
        cluster = Cluster([1, 2, 3])
        cluster.elect(1)
        cluster.restart(2)
        assert cluster.node(2).term == 1 and cluster.node(2).vote == 1
        cluster.check()


class TestPreVote:
    def isolate_and_wait(self, pre_vote: bool) -> tuple[Cluster, int]:
        config = RaftConfig(id=1, election_tick=5, pre_vote=pre_vote)
        cluster = Cluster([1, 2, 3], config=config)
        cluster.elect(1)
        term = cluster.node(1).term
        cluster.partition([3], [1, 2])
        for _ in range(60):  # node 3 times out again and again
            cluster.tick_all()
            cluster.deliver_all()
        return cluster, term

    def test_a_partitioned_node_does_not_inflate_its_term(self) -> None:
        cluster, term = self.isolate_and_wait(pre_vote=True)
        assert cluster.node(3).term == term
        assert cluster.node(3).role is Role.PRE_CANDIDATE
        cluster.heal()
        for _ in range(10):
            cluster.tick_all()
            cluster.deliver_all()
        assert cluster.node(1).is_leader and cluster.node(1).term == term
        assert cluster.node(3).role is Role.FOLLOWER and cluster.node(3).leader == 1
        cluster.check()

    def test_without_pre_vote_the_rejoining_node_deposes_the_leader(self) -> None:
        cluster, term = self.isolate_and_wait(pre_vote=False)
        assert cluster.node(3).term > term + 5
        cluster.heal()
        for _ in range(20):
            cluster.tick_all()
            cluster.deliver_all()
        leader = cluster.leader()
        assert leader is not None and leader.term > term + 5
        cluster.check()


class TestCheckQuorum:
    def test_a_leader_cut_off_from_the_majority_steps_down(self) -> None:
        cluster = Cluster([1, 2, 3], config=RaftConfig(id=1, election_tick=5))
        cluster.elect(1)
        cluster.partition([1], [2, 3])
        for _ in range(5):
            cluster.tick(1)
        assert cluster.node(1).role is Role.FOLLOWER and cluster.node(1).leader is None

    def test_without_check_quorum_it_stays_leader(self) -> None:
        cluster = Cluster([1, 2, 3], config=RaftConfig(id=1, check_quorum=False))
        cluster.elect(1)
        cluster.partition([1], [2, 3])
        for _ in range(100):
            cluster.tick(1)
        assert cluster.node(1).is_leader

    def test_followers_ignore_candidates_while_they_hear_from_a_leader(self) -> None:
        config = RaftConfig(id=1, election_tick=5, pre_vote=False)
        cluster = Cluster([1, 2, 3], config=config)
        cluster.elect(1)
        cluster.campaign(3)  # no pre-vote: node 3 bumps its term and asks
        cluster.deliver_all()
        assert cluster.node(1).is_leader
        assert cluster.node(2).term == cluster.node(1).term < cluster.node(3).term
        cluster.check()
