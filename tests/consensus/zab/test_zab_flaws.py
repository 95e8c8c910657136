"""Zab without its synchronization phase breaks primary order; Zab with it does not.

The scripted schedule is the one the experiment runs at scale: a leader commits a transaction
with one follower while the other is cut off, and crashes; the up-to-date follower becomes the
next leader and proposes. Without synchronization the lagging follower delivers the new
primary's transaction without the committed one before it; with it, never. The seeded random
walks find the flaw without a script.
"""

from __future__ import annotations

import pytest

from archlab.consensus.zab import Flaws, Zxid
from tests.consensus.zab.cluster import InvariantViolation, ZabCluster
from tests.consensus.zab.walk import first_failure, walk

SKIP_SYNC = Flaws(skip_synchronization=True)


def crash_after_a_commit(flaws: Flaws) -> ZabCluster:
    c = ZabCluster([1, 2, 3], seed=1, flaws=flaws)
    leader = c.settle()
    assert leader is not None and leader.id == 3
    c.partition([1], [2, 3])
    c.propose(3)  # <1,1>: committed by 3 and 2
    c.run(2)
    assert c.node(3).committed == 1
    c.crash(3)
    c.heal()
    c.run(30)
    new = c.leader()
    assert new is not None and new.id == 2
    c.propose(2)  # <2,1>
    c.run(5)
    c.check()
    return c


def test_without_synchronization_a_follower_delivers_the_new_primary_before_the_old_one() -> None:
    with pytest.raises(InvariantViolation, match="agreement|primary"):
        crash_after_a_commit(SKIP_SYNC)


def test_with_synchronization_every_replica_delivers_the_committed_transaction_first() -> None:
    c = crash_after_a_commit(Flaws())
    for node in (1, 2):
        history = c.node(node).history
        assert history.position_of(Zxid(1, 1)) == 1 and history.position_of(Zxid(2, 1)) == 2
        assert c.node(node).committed == 2


def test_random_walks_find_the_flaw() -> None:
    found = first_failure(range(20), flaws=SKIP_SYNC)
    assert found is not None and found.violation is not None


def test_regression_walk_seed_5_breaks_primary_integrity() -> None:
    result = walk(5, flaws=SKIP_SYNC)
    assert result.violation is not None and "primary integrity" in result.violation


def test_random_walks_keep_primary_order_and_agreement_in_correct_zab() -> None:
    results = [walk(seed, steps=250) for seed in range(40)]
    assert [r.seed for r in results if r.violation] == []
    assert sum(r.delivered for r in results) > 400
    assert sum(r.epochs > 1 for r in results) > 5


def test_random_walks_with_observers_keep_primary_order() -> None:
    results = [walk(seed, steps=250, observers=1) for seed in range(20)]
    assert [r.seed for r in results if r.violation] == []
    assert sum(r.delivered for r in results) > 100


@pytest.mark.slow
def test_many_random_walks_keep_primary_order() -> None:
    results = [walk(seed, steps=400) for seed in range(1000)]
    assert [r.seed for r in results if r.violation] == []
