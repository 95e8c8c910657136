"""The deliberately broken Multi-Paxos (skipping phase 1 after a leader change) is caught.

The scripted scenario runs with and without the flaw: with it, a new leader that never asked a
majority what they accepted chooses a second value in a slot already chosen, and the invariant
checks raise; without it, phase 1 finds the value and the same schedule keeps every invariant.
The seeded random walks find the flaw without a script (and never fail the correct variant).
"""

from __future__ import annotations

import pytest

from archlab.consensus.paxos import Accept, Accepted, Flaws
from tests.consensus.paxos.cluster import PaxosCluster
from tests.consensus.paxos.invariants import InvariantViolation
from tests.consensus.paxos.walk import first_failure, walk

SKIP_PHASE1 = Flaws(skip_phase1_after_leader_change=True)


def leader_change_after_a_choice(flaws: Flaws) -> PaxosCluster:
    c = PaxosCluster([1, 2, 3], check_quorum=False, probe=False, flaws=flaws)
    c.elect(1)
    c.partition([3], [1, 2])
    c.propose(1)  # slot 1 is chosen by nodes 1 and 2 ...
    c.deliver_where(lambda m: isinstance(m, Accept | Accepted) and m.commit == 0)
    c.drop_where(lambda m: True)  # ... and nobody hears the commit index
    c.check()
    c.crash(1)
    c.heal()
    c.campaign(3)  # node 3, which never saw slot 1, takes over
    c.deliver_all()
    c.propose(3)
    c.deliver_all()
    c.check()
    return c


def test_skipping_phase1_chooses_a_second_value_in_a_chosen_slot() -> None:
    with pytest.raises(InvariantViolation, match="two values chosen at slot 1"):
        leader_change_after_a_choice(SKIP_PHASE1)


def test_with_phase1_the_new_leader_keeps_the_chosen_value() -> None:
    c = leader_change_after_a_choice(Flaws())
    assert c.node(3).slots[1].value == c.storages[2].slot(1).value  # type: ignore[union-attr]


def test_random_walks_find_the_flaw() -> None:
    found = first_failure(range(20), flaws=SKIP_PHASE1)
    assert found is not None and found.violation is not None


def test_regression_walk_seed_0_chooses_two_values() -> None:
    result = walk(0, flaws=SKIP_PHASE1)
    assert result.violation is not None and "two values chosen" in result.violation


def test_random_walks_keep_every_invariant_of_the_correct_paxos() -> None:
    results = [walk(seed, steps=250) for seed in range(40)]
    assert [r.seed for r in results if r.violation] == []
    assert sum(r.max_commit for r in results) > 400  # the walks do make progress
    assert sum(r.leaders > 1 for r in results) > 10  # and change leaders


def test_random_walks_with_learners_keep_every_invariant() -> None:
    results = [walk(seed, steps=250, learners=1) for seed in range(20)]
    assert [r.seed for r in results if r.violation] == []
    assert sum(r.max_commit for r in results) > 100


@pytest.mark.slow
def test_many_random_walks_keep_every_invariant() -> None:
    results = [walk(seed, steps=400) for seed in range(1000)]
    assert [r.seed for r in results if r.violation] == []
