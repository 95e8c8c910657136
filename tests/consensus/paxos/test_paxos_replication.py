"""Phase 2, batching, learning, catch-up of lagging nodes, snapshots and learners."""

from __future__ import annotations

from archlab.consensus.paxos import Accept, Ballot, InstallSnapshot, Learn, Prepare, Probe, Role
from tests.consensus.paxos.cluster import PaxosCluster


def scripted(nodes: int = 3, **kwargs: object) -> PaxosCluster:
    return PaxosCluster(list(range(1, nodes + 1)), check_quorum=False, probe=False, **kwargs)  # type: ignore[arg-type]


def settle(c: PaxosCluster, rounds: int = 4) -> None:
    for _ in range(rounds):
        c.deliver_all()
        c.tick_all()
    c.deliver_all()


def test_proposals_made_together_share_one_accept_per_peer_up_to_max_batch() -> None:
    c = scripted(3, max_batch=3)
    c.elect(1)
    c.drop_where(lambda m: True)
    node = c.node(1)
    for _ in range(7):
        node.propose(c.next_payload())
    c.process(1)
    to_two = [m for m in c.pool if isinstance(m, Accept) and m.dst == 2]
    assert [len(m.entries) for m in to_two] == [3, 3, 1]
    settle(c)
    assert all(n.commit_index == 7 for n in c.alive().values())


def test_one_slot_per_message_without_batching() -> None:
    c = scripted(3, max_batch=1)
    c.elect(1)
    c.drop_where(lambda m: True)
    for _ in range(4):
        c.node(1).propose(c.next_payload())
    c.process(1)
    assert len([m for m in c.pool if isinstance(m, Accept) and m.dst == 2]) == 4


def test_a_slot_is_chosen_by_a_majority_and_learned_by_everyone_through_the_commit_index() -> None:
    c = scripted(5)
    c.elect(1)
    c.propose(1)
    c.deliver_all()
    assert c.node(1).commit_index == 1
    settle(c)
    assert all(n.commit_index == 1 for n in c.alive().values())
    assert c.sent["Learn"] == 0  # everybody accepted it in the leader's ballot


def test_a_node_that_missed_values_learns_them_from_the_leader() -> None:
    c = scripted(3)
    c.elect(1)
    c.partition([3], [1, 2])
    for _ in range(5):
        c.propose(1)
    settle(c)
    assert c.node(3).commit_index == 0
    c.heal()
    settle(c)
    assert c.node(3).commit_index == 5
    assert c.sent["Learn"] >= 1
    c.check()


def test_a_node_behind_the_leaders_snapshot_gets_the_snapshot() -> None:
    c = scripted(3)
    c.elect(1)
    c.crash(3)
    for _ in range(6):
        c.propose(1)
    settle(c)
    assert c.compact(1)
    c.start(3)
    settle(c)
    assert c.sent["InstallSnapshot"] >= 1
    assert c.node(3).commit_index == 6
    assert c.machines[3].digest() == c.machines[1].digest()
    c.check()


def test_a_restarted_node_reapplies_its_chosen_prefix_from_its_own_storage() -> None:
    c = scripted(3)
    c.elect(1)
    for _ in range(4):
        c.propose(1)
    settle(c)
    before = c.machines[2].digest()
    c.crash(2)
    c.start(2)
    assert c.node(2).commit_index == 4 and c.machines[2].digest() == before


def test_a_learner_never_promises_accepts_or_campaigns_but_learns_everything() -> None:
    c = PaxosCluster([1, 2, 3], seed=4, check_quorum=False, probe=False, voters={1, 2})  # type: ignore[call-arg]
    c.elect(1)
    learner = c.node(3)
    for _ in range(3):
        c.propose(1)
    settle(c)
    assert learner.commit_index == 3 and learner.promised.round == 0
    assert all(s.chosen for s in c.storages[3].slots())  # learned, never merely accepted
    learner.step(Prepare(2, 3, Ballot(50, 2), 1))
    learner.step(Probe(2, 3, Ballot(50, 2), 99))
    learner.campaign()
    for _ in range(30):
        learner.tick()
    c.process(3)
    assert learner.role is Role.FOLLOWER and learner.promised.round == 0
    assert not any(
        m.src == 3 and type(m).__name__ in ("Promise", "Prepare", "Probe") for m in c.pool
    )
    granted = [m for m in c.pool if type(m).__name__ == "ProbeReply" and m.src == 3]
    assert granted and not granted[0].granted


def test_catch_up_is_not_sent_to_a_node_that_can_learn_from_the_commit_index() -> None:
    c = scripted(3)
    c.elect(1)
    for _ in range(10):
        c.propose(1)
        c.deliver_all()
    assert not [m for m in c.pool if isinstance(m, Learn | InstallSnapshot)]
    assert c.sent["Learn"] == 0
