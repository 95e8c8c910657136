"""Zab's phases: election, discovery, synchronization (DIFF / TRUNC / SNAP), broadcast."""

from __future__ import annotations

from archlab.consensus.zab import (
    Ack,
    AckEpoch,
    NewEpoch,
    NewLeader,
    Notification,
    Phase,
    Proposal,
    ServerState,
    ZabNode,
    Zxid,
    persist_violations,
)
from tests.consensus.zab.cluster import ZabCluster


def settled(nodes: int = 3, seed: int = 1, **kwargs: object) -> tuple[ZabCluster, ZabNode]:
    c = ZabCluster(list(range(1, nodes + 1)), seed=seed, **kwargs)  # type: ignore[arg-type]
    leader = c.settle()
    assert leader is not None
    return c, leader


def write(c: ZabCluster, leader: ZabNode, count: int) -> None:
    for _ in range(count):
        c.propose(leader.id)
    c.settle()


# -- election ----------------------------------------------------------------------------------


def test_fast_leader_election_picks_the_highest_epoch_zxid_and_id() -> None:
    c, leader = settled(5)
    assert leader.id == 5  # equal histories: the highest id
    assert [n.state for n in c.alive().values()].count(ServerState.LEADING) == 1
    write(c, leader, 3)
    # Node 2 holds the longest history when the others restart: it must lead.
    c.crash(5)
    c.partition([1, 3, 4], [2])
    c.propose(leader.id)  # lost with the leader
    c.heal()
    for node in (1, 3, 4):
        c.crash(node)
    c.propose(2)
    c.crash(2)
    for node in (1, 2, 3, 4):
        c.start(node)
    new = c.settle()
    assert new is not None and new.epoch == 2


def test_the_best_vote_wins_on_every_node() -> None:
    c = ZabCluster([1, 2, 3], seed=3)
    c.deliver_where(lambda m: isinstance(m, Notification))
    votes = {n.election.vote.leader for n in c.alive().values()}
    assert votes == {3}


def test_a_restarted_node_finds_the_established_leader_through_the_others() -> None:
    c, leader = settled(3)
    write(c, leader, 2)
    follower = next(i for i in c.ids if i != leader.id)
    c.crash(follower)
    write(c, leader, 2)
    c.start(follower)
    c.settle()
    node = c.node(follower)
    assert node.state is ServerState.FOLLOWING and node.leader == leader.id
    assert node.committed == leader.committed == 4
    assert leader.epoch == 1  # nobody started a new epoch for it
    c.check()


# -- discovery ---------------------------------------------------------------------------------


def test_the_new_epoch_is_above_every_accepted_epoch_of_a_quorum() -> None:
    c, leader = settled(3)
    assert leader.epoch == 1 and all(n.accepted_epoch == 1 for n in c.alive().values())
    c.crash(leader.id)
    c.tick_all(12)
    new = c.settle()
    assert new is not None and new.epoch == 2


def test_an_ack_of_an_epoch_already_accepted_does_not_count() -> None:
    c, leader = settled(3)
    follower = next(i for i in c.ids if i != leader.id)
    node = c.node(follower)
    node.step(NewEpoch(leader.id, follower, node.attempt, leader.epoch, 1, ()))
    ready = node.ready()
    node.advance(ready)
    assert node.phase is Phase.BROADCAST  # already past discovery: ignored
    # A follower in discovery that already accepted the epoch marks its ack as not counting.
    c.crash(follower)
    c.start(follower)
    c.deliver_where(lambda m: isinstance(m, Notification))
    c.deliver_where(lambda m: not isinstance(m, AckEpoch))
    acks = [m for m in c.pool if isinstance(m, AckEpoch) and m.src == follower]
    assert acks and not acks[0].counts


def test_the_leader_adopts_a_more_up_to_date_followers_history() -> None:
    c, leader = settled(3)
    write(c, leader, 2)
    ahead = next(i for i in c.ids if i != leader.id)
    behind = next(i for i in c.ids if i not in (leader.id, ahead))
    # The leader's last proposal reaches only `ahead`; then the leader dies.
    c.partition([behind], [leader.id, ahead])
    c.propose(leader.id)
    c.deliver_where(lambda m: isinstance(m, Proposal))
    assert c.node(ahead).history.length == 3 and c.node(behind).history.length == 2
    c.crash(leader.id)
    c.heal()
    c.tick_all(12)
    new = c.settle()
    assert new is not None
    assert new.history.length == 3  # whoever leads, the proposal a quorum might have committed
    c.check()


# -- synchronization --------------------------------------------------------------------------


def modes(c: ZabCluster, dst: int) -> list[str]:
    return [m.mode for m in c.sent_log if isinstance(m, NewLeader) and m.dst == dst]


def test_a_follower_missing_a_suffix_gets_a_diff() -> None:
    c, leader = settled(3)
    follower = next(i for i in c.ids if i != leader.id)
    c.crash(follower)
    write(c, leader, 3)
    c.start(follower)
    c.run()
    assert modes(c, follower)[-1] == "DIFF" and c.node(follower).committed == 3


def test_a_follower_with_a_divergent_tail_gets_it_truncated() -> None:
    c, leader = settled(3)
    write(c, leader, 2)
    old = leader.id
    c.partition([old], [i for i in c.ids if i != old])
    c.propose(old)  # <1,3> only on the old leader
    c.propose(old)
    assert c.node(old).history.length == 4
    c.tick_all(30)
    new = c.settle()
    assert new is not None and new.id != old
    write(c, new, 1)
    c.heal()
    c.run(40)
    node = c.node(old)
    assert modes(c, old)[-1] == "TRUNC"
    assert node.history.position_of(Zxid(1, 3)) is None
    assert node.history.last_zxid == new.history.last_zxid
    c.check()


def test_a_follower_behind_the_leaders_snapshot_gets_the_snapshot() -> None:
    c, leader = settled(3)
    follower = next(i for i in c.ids if i != leader.id)
    c.crash(follower)
    write(c, leader, 5)
    assert c.compact(leader.id)
    c.start(follower)
    c.run()
    assert modes(c, follower)[-1] == "SNAP"
    assert c.machines[follower].digest() == c.machines[leader.id].digest()
    c.check()


def test_a_synchronized_follower_left_behind_the_snapshot_gets_it_in_broadcast() -> None:
    c, leader = settled(3)
    lagging = next(i for i in c.ids if i != leader.id)
    for _ in range(6):
        c.propose(leader.id)
        c.drop_where(lambda m: isinstance(m, Proposal) and m.dst == lagging)
        c.deliver_all()
    assert c.node(lagging).history.length == 0 and leader.committed == 6
    assert c.compact(leader.id)
    c.run(3)
    node = c.node(lagging)
    assert node.phase is Phase.BROADCAST and node.history.base == 6 and node.committed == 6
    assert modes(c, lagging)[-1] == "SNAP"
    assert c.machines[lagging].digest() == c.machines[leader.id].digest()
    c.check()


def test_no_proposal_before_a_quorum_is_synchronized() -> None:
    c = ZabCluster([1, 2, 3], seed=2)
    c.deliver_where(lambda m: not isinstance(m, NewLeader))
    leader = next(n for n in c.alive().values() if n.is_leader)
    assert leader.phase is Phase.SYNCHRONIZATION and not leader.established
    assert c.propose(leader.id) is None
    c.deliver_all()
    assert leader.established and c.propose(leader.id) is not None


# -- broadcast ---------------------------------------------------------------------------------


def test_a_proposal_commits_on_a_quorum_of_acks_and_is_delivered_everywhere() -> None:
    c, leader = settled(5)
    zxid = c.propose(leader.id)
    assert zxid == Zxid(1, 1)
    acks = 0
    while leader.commit_zxid < zxid:
        position = next(i for i, m in enumerate(c.pool) if isinstance(m, Proposal | Ack))
        acks += isinstance(c.pool[position], Ack)
        c.deliver_at(position)
    assert acks == 2  # with the leader's own, 3 of 5
    c.settle()
    assert all(n.committed == 1 for n in c.alive().values())


def test_a_follower_accepts_proposals_only_in_order_and_the_leader_resends() -> None:
    c, leader = settled(3, max_batch=1)
    follower = next(i for i in c.ids if i != leader.id)
    for _ in range(3):
        c.propose(leader.id)
    first = next(m for m in c.pool if isinstance(m, Proposal) and m.dst == follower)
    c.pool.remove(first)  # <1,1> is lost on the way to the follower
    c.deliver_where(lambda m: isinstance(m, Proposal) and m.dst == follower)
    node = c.node(follower)
    assert node.history.length == 0
    assert any(isinstance(m, Ack) and m.gap for m in c.pool)
    c.run(3)
    assert node.history.length == 3 and node.committed == 3


def test_proposals_made_together_share_a_message_up_to_max_batch() -> None:
    c, leader = settled(3, max_batch=2)
    node = c.node(leader.id)
    for _ in range(5):
        node.propose(c.next_payload())
    c.process(leader.id)
    follower = next(i for i in c.ids if i != leader.id)
    sizes = [len(m.txns) for m in c.pool if isinstance(m, Proposal) and m.dst == follower]
    assert sizes == [2, 2, 1]


def test_an_ack_leaves_only_after_the_transaction_is_durable() -> None:
    c, leader = settled(3)
    follower = next(i for i in c.ids if i != leader.id)
    c.propose(leader.id)
    proposal = next(m for m in c.pool if isinstance(m, Proposal) and m.dst == follower)
    node = c.node(follower)
    node.step(proposal)
    ready = node.ready()
    assert any(isinstance(m, Ack) for m in ready.messages)
    assert persist_violations(ready, c.storages[follower])
    storage = c.storages[follower]
    storage.persist(ready.hard_state, ready.snapshot, ready.history_from, ready.txns)
    assert persist_violations(ready, storage) == []


def test_a_leader_without_a_quorum_goes_back_to_election() -> None:
    c, leader = settled(3)
    c.partition([leader.id], [i for i in c.ids if i != leader.id])
    for _ in range(25):
        c.tick(leader.id)
    assert leader.state is ServerState.LOOKING


def test_an_observer_follows_and_delivers_but_never_counts() -> None:
    c = ZabCluster([1, 2, 3], seed=1, voters={1, 2})  # type: ignore[call-arg]
    leader = c.settle()
    assert leader is not None and leader.id == 2
    write(c, leader, 3)
    observer = c.node(3)
    assert observer.state is ServerState.FOLLOWING and observer.committed == 3
    c.crash(1)  # only one voter left: nothing commits, whatever the observer acknowledges
    before = leader.commit_zxid
    c.propose(leader.id)
    for _ in range(3):
        c.deliver_all()
        c.tick(2)
        c.tick(3)
    assert leader.commit_zxid == before
