"""Phase 1: a new leader learns what a majority accepted, re-proposes it, fills holes."""

from __future__ import annotations

from archlab.consensus.paxos import (
    Accept,
    Accepted,
    Ballot,
    Prepare,
    Promise,
    Reject,
    persist_violations,
)
from tests.consensus.paxos.cluster import PaxosCluster


def scripted(nodes: int = 3, **kwargs: object) -> PaxosCluster:
    """Leaders elected on demand: no leader stickiness, no probes."""
    return PaxosCluster(list(range(1, nodes + 1)), check_quorum=False, probe=False, **kwargs)  # type: ignore[arg-type]


def test_a_new_leader_reproposes_the_highest_ballot_value_and_fills_holes_with_noops() -> None:
    c = scripted(5)
    c.elect(1)
    # Slot 1 reaches nodes 1, 2 only; slot 2 is accepted by nobody but the leader; slot 3 by
    # 1 and 3.
    for _ in range(3):
        c.propose(1)
    c.deliver_where(lambda m: isinstance(m, Accept) and m.dst == 2 and m.entries[0][0] == 1)
    c.deliver_where(lambda m: isinstance(m, Accept) and m.dst == 3 and m.entries[0][0] == 3)
    c.drop_where(lambda m: True)
    c.crash(1)
    c.elect(2)
    leader = c.node(2)
    values = {i: leader.slots[i] for i in (1, 2, 3)}
    assert values[1].value == c.storages[2].slot(1).value  # type: ignore[union-attr]
    assert values[1].ballot == leader.ballot
    assert values[2].is_noop  # accepted by the crashed leader only: a hole
    assert not values[3].is_noop  # node 3 reported it in its promise
    c.deliver_all()
    c.tick_all(2)
    c.deliver_all()
    assert leader.commit_index == 3
    c.check()


def test_a_value_a_majority_accepted_survives_every_later_leader() -> None:
    c = scripted(3)
    c.elect(1)
    c.propose(1)
    c.deliver_where(lambda m: isinstance(m, Accept | Accepted))  # slot 1 chosen
    chosen = c.node(1).slots[1].value
    for leader in (2, 3, 2):
        c.crash(1)
        c.elect(leader)
        c.deliver_all()
        assert c.node(leader).slots[1].value == chosen
        c.start(1)
        c.check()


def test_an_acceptor_rejects_a_ballot_below_its_promise_and_the_proposer_retries_above() -> None:
    c = scripted(3)
    c.elect(1)
    c.elect(2)  # ballot of node 2 is above node 1's
    promised = c.node(3).promised
    c.node(1).campaign()  # phase 1 with a ballot above everything node 1 has seen
    ballot = c.node(1).ballot
    assert ballot > promised
    c.node(3).step(Prepare(1, 3, Ballot(0, 1), 1))
    c.process(3)
    rejects = [m for m in c.pool if isinstance(m, Reject) and m.dst == 1]
    assert rejects and rejects[-1].promised == c.node(3).promised


def test_a_promise_leaves_only_after_the_promised_ballot_is_durable() -> None:
    c = scripted(3)
    node = c.node(2)
    node.step(Prepare(1, 2, Ballot(5, 1), 1))
    ready = node.ready()
    promise = next(m for m in ready.messages if isinstance(m, Promise))
    assert ready.promised == Ballot(5, 1)
    assert persist_violations(ready, c.storages[2])  # not written yet
    c.storages[2].persist(ready.promised, ready.slots, ready.snapshot)
    assert persist_violations(ready, c.storages[2]) == []
    assert promise.ballot == Ballot(5, 1)
    node.advance(ready)


def test_an_accepted_leaves_only_after_the_acceptance_is_durable() -> None:
    c = scripted(3)
    node = c.node(2)
    node.step(Accept(1, 2, Ballot(1, 1), ((1, b"x"),), 0))
    ready = node.ready()
    assert any(isinstance(m, Accepted) and m.slots == (1,) for m in ready.messages)
    assert persist_violations(ready, c.storages[2])
    c.storages[2].persist(ready.promised, ready.slots, ready.snapshot)
    assert persist_violations(ready, c.storages[2]) == []


def test_a_promise_carries_the_snapshot_when_the_acceptor_compacted_past_the_first_slot() -> None:
    c = scripted(3)
    c.elect(1)
    for _ in range(4):
        c.propose(1)
    c.deliver_all()
    c.tick_all(2)
    c.deliver_all()
    assert c.compact(2)
    c.node(2).step(Prepare(3, 2, Ballot(9, 3), 1))
    c.process(2)
    promise = next(m for m in c.pool if isinstance(m, Promise) and m.src == 2)
    assert promise.snapshot is not None and promise.snapshot.index == 4
    assert all(s.index > 4 for s in promise.slots)
