"""Leader election: randomized timeouts, probes, check-quorum, re-preparing above a rejection."""

from __future__ import annotations

from archlab.consensus.paxos import Accept, Ballot, Probe, ProbeReply, Role
from tests.consensus.paxos.cluster import PaxosCluster


def run(c: PaxosCluster, ticks: int) -> None:
    for _ in range(ticks):
        c.tick_all()
        c.deliver_all()


def test_a_cluster_elects_one_leader_by_itself_and_commits() -> None:
    c = PaxosCluster([1, 2, 3, 4, 5], seed=3)
    run(c, 20)
    leaders = [n for n in c.alive().values() if n.role is Role.LEADER]
    assert len(leaders) == 1
    c.propose(leaders[0].id)
    run(c, 3)
    assert all(n.commit_index == 1 for n in c.alive().values())
    c.check()


def test_timeouts_are_drawn_from_the_configured_range() -> None:
    c = PaxosCluster([1, 2, 3], seed=5)
    node = c.node(1)
    seen = set()
    for _ in range(200):
        node._reset_timer()
        seen.add(node._timeout)
    assert seen == set(range(4, 8))  # [T, 2T) with T = 4


def test_a_node_cut_off_does_not_depose_the_leader_when_it_comes_back() -> None:
    c = PaxosCluster([1, 2, 3], seed=7)
    run(c, 20)
    leader = c.leader()
    assert leader is not None
    ballot = leader.ballot
    outsider = next(i for i in c.ids if i != leader.id)
    c.partition([outsider], [i for i in c.ids if i != outsider])
    run(c, 40)  # the outsider probes again and again; nobody grants
    c.heal()
    run(c, 20)
    assert c.leader() is leader and leader.ballot == ballot
    assert c.node(outsider).role is Role.FOLLOWER and c.node(outsider).leader == leader.id


def test_a_probe_is_refused_by_a_node_that_hears_from_a_leader() -> None:
    c = PaxosCluster([1, 2, 3], seed=7)
    run(c, 20)
    leader = c.leader()
    assert leader is not None
    follower = next(i for i in c.ids if i != leader.id)
    other = next(i for i in c.ids if i not in (leader.id, follower))
    c.node(follower).step(Probe(other, follower, Ballot(99, other), 0))
    c.process(follower)
    reply = next(m for m in c.pool if isinstance(m, ProbeReply) and m.src == follower)
    assert not reply.granted


def test_a_leader_that_loses_its_majority_steps_down() -> None:
    c = PaxosCluster([1, 2, 3], seed=11)
    run(c, 20)
    leader = c.leader()
    assert leader is not None
    c.partition([leader.id], [i for i in c.ids if i != leader.id])
    for _ in range(2 * c.election_tick):
        c.tick(leader.id)
        c.deliver_all()
    assert leader.role is Role.FOLLOWER


def test_a_leader_rejected_by_a_higher_ballot_runs_phase1_again_above_it() -> None:
    c = PaxosCluster([1, 2, 3], seed=2, check_quorum=False, probe=False)
    c.elect(1)
    c.campaign(3)  # node 3 promises itself a higher ballot; its Prepares are lost
    c.drop_where(lambda m: True)
    higher = c.node(3).promised
    c.propose(1)
    c.deliver_all()  # node 3 rejects the Accept: node 1 prepares again above it, and wins
    leader = c.node(1)
    assert leader.is_leader and leader.ballot > higher
    assert c.node(3).leader == 1
    assert leader.commit_index == 1


def test_without_probes_a_rejoining_node_disrupts_the_leader() -> None:
    """The control for the probe test above: probing is what keeps the leader in place."""
    c = PaxosCluster([1, 2, 3], seed=7, probe=False, check_quorum=False)
    c.elect(1)
    c.partition([3], [1, 2])
    for _ in range(3):
        c.campaign(3)
    c.heal()
    c.deliver_all()
    assert not (c.node(1).is_leader and c.node(1).ballot.round == 1)


def test_a_heartbeat_carries_the_commit_index_and_unacknowledged_slots() -> None:
    c = PaxosCluster([1, 2, 3], seed=1, check_quorum=False, probe=False)
    c.elect(1)
    c.propose(1)
    c.drop_where(lambda m: isinstance(m, Accept) and m.dst == 3)
    c.deliver_all()
    c.tick(1)
    beat = next(m for m in c.pool if isinstance(m, Accept) and m.dst == 3)
    assert beat.commit == 1
    assert [i for i, _ in beat.entries] == []  # slot 1 is chosen: no longer retransmitted
    c.deliver_all()
    assert c.node(3).commit_index == 1
