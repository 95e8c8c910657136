"""Each Multi-Paxos invariant check fails on a hand-made broken state (the checks can fail)."""

from __future__ import annotations

import pytest

from archlab.consensus.paxos import Ballot, Chosen, MemoryPaxosStorage, Slot
from tests.consensus.paxos.invariants import InvariantViolation, PaxosInvariants

MEMBERS = frozenset({1, 2, 3})


def test_two_values_accepted_by_majorities_in_one_slot_are_caught() -> None:
    inv = PaxosInvariants(MEMBERS)
    inv.observe_persist(1, Ballot(1, 1), (Slot(1, Ballot(1, 1), b"x"),))
    inv.observe_persist(2, Ballot(1, 1), (Slot(1, Ballot(1, 1), b"x"),))
    inv.observe_persist(3, Ballot(2, 3), (Slot(1, Ballot(2, 3), b"y"),))
    with pytest.raises(InvariantViolation, match="two values chosen"):
        inv.observe_persist(2, Ballot(2, 3), (Slot(1, Ballot(2, 3), b"y"),))


def test_a_majority_in_different_ballots_does_not_choose() -> None:
    inv = PaxosInvariants(MEMBERS)
    inv.observe_persist(1, Ballot(1, 1), (Slot(1, Ballot(1, 1), b"x"),))
    inv.observe_persist(2, Ballot(2, 2), (Slot(1, Ballot(2, 2), b"x"),))
    assert inv.chosen == {}


def test_learning_a_value_other_than_the_chosen_one_is_caught() -> None:
    inv = PaxosInvariants(MEMBERS)
    inv.observe_persist(1, Ballot(1, 1), (Slot(1, Ballot(1, 1), b"x"),))
    inv.observe_persist(2, Ballot(1, 1), (Slot(1, Ballot(1, 1), b"x"),))
    with pytest.raises(InvariantViolation, match="chosen is"):
        inv.observe_persist(3, None, (Slot(1, Ballot(1, 1), b"y", chosen=True),))


def test_a_promise_going_back_is_caught() -> None:
    inv = PaxosInvariants(MEMBERS)
    inv.observe_persist(1, Ballot(3, 1), ())
    with pytest.raises(InvariantViolation, match="promise went back"):
        inv.observe_persist(1, Ballot(2, 2), ())


def test_accepting_below_the_promise_is_caught() -> None:
    inv = PaxosInvariants(MEMBERS)
    inv.observe_persist(1, Ballot(3, 1), ())
    with pytest.raises(InvariantViolation, match="after promising"):
        inv.observe_persist(1, None, (Slot(1, Ballot(2, 2), b"x"),))


def test_applying_different_values_or_out_of_order_is_caught() -> None:
    inv = PaxosInvariants(MEMBERS)
    inv.observe_apply(1, Chosen(1, b"x"))
    with pytest.raises(InvariantViolation, match="applied different values"):
        inv.observe_apply(2, Chosen(1, b"y"))
    with pytest.raises(InvariantViolation, match="after"):
        inv.observe_apply(1, Chosen(1, b"x"))


def test_a_durable_acceptance_above_the_durable_promise_is_caught() -> None:
    inv = PaxosInvariants(MEMBERS)
    storage = MemoryPaxosStorage()
    storage.persist(Ballot(1, 1), [Slot(1, Ballot(5, 2), b"x")], None)
    with pytest.raises(InvariantViolation, match="above its promise"):
        inv.check({1: storage})
