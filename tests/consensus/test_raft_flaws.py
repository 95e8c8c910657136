"""Each deliberately broken Raft variant is caught, and the correct Raft passes the same test.

Every scenario runs twice: with the flaw the cluster's invariant checks (or the
persist-before-send check) must raise; without it the same schedule must keep every invariant.
The seeded random walks show the checks also find two of the flaws without a script.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from archlab.consensus.raft import (
    AppendEntries,
    AppendResponse,
    Flaws,
    Message,
    RaftConfig,
    Role,
    VoteRequest,
    VoteResponse,
    persist_violations,
)
from tests.consensus.cluster import Cluster
from tests.consensus.invariants import InvariantViolation
from tests.consensus.walk import first_failure

# Scripted scenarios elect leaders on demand, so followers must not ignore votes while they
# remember a leader (check-quorum's leader stickiness), and votes are plain (no pre-vote).
SCRIPTED = RaftConfig(id=1, election_tick=5, pre_vote=False, check_quorum=False)


def cluster_with(flaws: Flaws, *, max_entries: int = 64, strict: bool = True) -> Cluster:
    config = RaftConfig(
        id=1,
        election_tick=5,
        pre_vote=False,
        check_quorum=False,
        max_entries_per_msg=max_entries,
        flaws=flaws,
    )
    return Cluster([1, 2, 3], config=config, strict_persist=strict)


def between(a: int, b: int) -> Callable[[Message], bool]:
    return lambda m: {m.src, m.dst} == {a, b}


def figure8(cluster: Cluster) -> None:
    """The Raft paper's Figure 8, on three servers, checking invariants after every step.

    An entry of term 1 reaches a majority only after a leader of term 3 re-replicates it; a
    server that never saw it but holds a term-2 entry can still be elected and overwrite it.
    Only a leader that commits earlier-term entries by counting replicas applies it first.
    """
    c = cluster
    c.elect(1)
    c.check()
    x = c.propose(1)  # (index 2, term 1) on node 1 only
    assert x == 2
    c.drop_where(lambda m: True)
    c.crash(1)
    c.campaign(2)  # term 2: node 3 votes, node 2 appends its no-op (index 2, term 2) alone
    c.deliver_where(lambda m: isinstance(m, VoteRequest | VoteResponse))
    assert c.node(2).is_leader
    c.drop_where(lambda m: True)
    c.crash(2)
    c.check()
    c.start(1)
    for _ in range(3):  # terms 2 (refused: node 3 voted for 2) then 3
        c.campaign(1)
        c.deliver_where(lambda m: isinstance(m, VoteRequest | VoteResponse))
        if c.node(1).is_leader:
            break
    leader = c.node(1)
    assert leader.is_leader and leader.term == 3
    # Probe node 3 until it stores (index 2, term 1) — but not the term-3 no-op after it.
    for _ in range(10):
        c.check()
        stored = c.storages[3].last_index() >= 2 and c.storages[3].term(2) == 1
        if stored:
            break
        c.deliver_where(lambda m: isinstance(m, AppendEntries | AppendResponse) and m.dst == 3)
        c.deliver_where(lambda m: isinstance(m, AppendResponse) and m.src == 3 and m.index <= 2)
    c.check()
    c.drop_where(lambda m: True)
    c.crash(1)
    c.start(2)
    for _ in range(4):
        c.campaign(2)
        c.deliver_where(lambda m: isinstance(m, VoteRequest | VoteResponse))
        c.check()
        if c.node(2).is_leader:
            break
    assert c.node(2).is_leader
    c.deliver_all()
    c.check()
    c.start(1)
    c.deliver_all()
    c.tick_all(3)
    c.deliver_all()
    c.check()


class TestCommitPreviousTermByCounting:
    def test_correct_raft_survives_figure_8(self) -> None:
        cluster = cluster_with(Flaws(), max_entries=1)
        figure8(cluster)
        # Node 2's term-2 entry won: the term-1 entry was never committed, nobody applied it.
        assert cluster.invariants.committed[2][0] == 2

    def test_flaw_is_caught_on_figure_8(self) -> None:
        cluster = cluster_with(Flaws(commit_previous_term_by_counting=True), max_entries=1)
        with pytest.raises(InvariantViolation, match="state machine safety|leader completeness"):
            figure8(cluster)


def stale_candidate(cluster: Cluster) -> None:
    """Node 3 misses a committed entry, then asks for votes."""
    c = cluster
    c.elect(1)
    c.propose(1)
    c.deliver_where(between(1, 2))  # committed on 1 and 2; node 3 never hears of it
    c.check()
    assert c.invariants.max_commit == 2
    c.drop_where(lambda m: True)
    c.crash(1)
    c.campaign(3)
    c.deliver_where(lambda m: isinstance(m, VoteRequest | VoteResponse))
    c.check()
    c.deliver_all()
    c.check()


class TestGrantVoteWithoutLogCheck:
    def test_correct_raft_refuses_a_stale_candidate(self) -> None:
        cluster = cluster_with(Flaws())
        stale_candidate(cluster)
        assert cluster.node(3).role is not Role.LEADER

    def test_flaw_elects_a_leader_lacking_a_committed_entry(self) -> None:
        cluster = cluster_with(Flaws(grant_vote_without_log_check=True))
        with pytest.raises(InvariantViolation, match="leader completeness"):
            stale_candidate(cluster)

    def test_random_walks_find_it(self) -> None:
        flaw = Flaws(grant_vote_without_log_check=True)
        found = first_failure(range(40), steps=300, flaws=flaw)
        assert found is not None, "40 seeded walks did not catch the unchecked vote"
        assert first_failure(range(found.seed, found.seed + 1), steps=300) is None


def double_vote(cluster: Cluster) -> None:
    """Two candidates in term 1; the voter crashes between granting one and asked by the other."""
    c = cluster
    c.campaign(1)
    c.campaign(2)
    requests: list[Message] = [m for m in c.pool if isinstance(m, VoteRequest) and m.dst == 3]
    c.pool = [m for m in c.pool if m not in requests]
    from_1 = next(m for m in requests if m.src == 1)
    from_2 = next(m for m in requests if m.src == 2)
    c.deliver(from_1)
    c.deliver_where(lambda m: isinstance(m, VoteResponse) and m.src == 3)
    assert c.node(1).is_leader
    c.check()
    c.restart(3)
    c.deliver(from_2)
    c.deliver_where(lambda m: isinstance(m, VoteResponse) and m.src == 3)
    c.check()


class TestReplyBeforePersistingVote:
    def test_correct_raft_remembers_its_vote_across_a_crash(self) -> None:
        cluster = cluster_with(Flaws())
        double_vote(cluster)
        assert not cluster.node(2).is_leader
        assert cluster.storages[3].hard_state().vote == 1

    def test_persist_before_send_check_catches_the_reply(self) -> None:
        cluster = cluster_with(Flaws(reply_before_persisting_vote=True))
        with pytest.raises(InvariantViolation, match="persist before send"):
            double_vote(cluster)

    def test_the_consequence_is_two_leaders_in_one_term(self) -> None:
        cluster = cluster_with(Flaws(reply_before_persisting_vote=True), strict=False)
        with pytest.raises(InvariantViolation, match="election safety"):
            double_vote(cluster)
        assert cluster.persist_problems

    def test_persist_violations_names_the_unpersisted_vote(self) -> None:
        cluster = cluster_with(Flaws(reply_before_persisting_vote=True), strict=False)
        cluster.campaign(1)
        request = next(m for m in cluster.pool if isinstance(m, VoteRequest) and m.dst == 3)
        node = cluster.node(3)
        node.step(request)
        ready = node.ready()
        assert ready.hard_state is None
        cluster.storages[3].persist(ready.hard_state, ready.entries, ready.snapshot)
        problems = persist_violations(ready, cluster.storages[3])
        assert any("vote for 1 in term 1" in p for p in problems)

    def test_random_walks_find_it_without_the_persist_check(self) -> None:
        # An election storm (no pre-vote, frequent crashes and campaigns) on three servers.
        storm = {"pre_vote": False, "churn": 8.0, "nodes": 3, "strict_persist": False}
        flaw = Flaws(reply_before_persisting_vote=True)
        found = first_failure(range(40), steps=300, flaws=flaw, **storm)
        assert found is not None, "40 seeded walks did not catch the unpersisted vote"
        assert found.violation is not None and "election safety" in found.violation
        assert first_failure(range(found.seed, found.seed + 1), steps=300, **storm) is None


def test_flaws_are_off_by_default() -> None:
    assert Flaws().enabled() == []
    assert RaftConfig(id=1).flaws == Flaws()
    assert Flaws(commit_previous_term_by_counting=True).enabled() == [
        "commit_previous_term_by_counting"
    ]
