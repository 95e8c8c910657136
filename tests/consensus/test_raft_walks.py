"""Seeded random walks: correct Raft keeps every invariant under heavy faults, seed after seed.

Each walk is a few hundred weighted steps of deliveries in random order, drops, duplicates,
ticks, crashes and restarts, partitions, proposals, reads, membership changes and compaction,
with every invariant checked after every step (``walk.py``). The default run covers a few
hundred seeds across four shapes of cluster; ``-m slow`` covers thousands.
"""

from __future__ import annotations

from typing import Any

import pytest

from archlab.consensus.raft import ReadMode
from tests.consensus.walk import walk

SHAPES: dict[str, dict[str, Any]] = {
    "5 nodes, pre-vote, ReadIndex": {"nodes": 5},
    "3 nodes, one entry per message, churn": {"nodes": 3, "max_entries_per_msg": 1, "churn": 3},
    "3 nodes, no pre-vote, election storm": {"nodes": 3, "pre_vote": False, "churn": 6},
    "3 nodes, lease reads, lockstep clocks": {"nodes": 3, "read_mode": ReadMode.LEASE, "churn": 2},
}
DEFAULT_SEEDS = {"5 nodes, pre-vote, ReadIndex": 60}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_correct_raft_survives_seeded_walks(shape: str) -> None:
    options = SHAPES[shape]
    progress = 0
    for seed in range(DEFAULT_SEEDS.get(shape, 100)):
        result = walk(seed, steps=300, **options)
        assert result.violation is None, f"seed {seed}: {result.violation}"
        progress += result.max_commit
    assert progress > 0, "the walks never committed anything: the checks would be vacuous"


@pytest.mark.slow
@pytest.mark.parametrize("shape", list(SHAPES))
def test_correct_raft_survives_thousands_of_walks(shape: str) -> None:
    for seed in range(1000, 3000):
        result = walk(seed, steps=500, **SHAPES[shape])
        assert result.violation is None, f"seed {seed}: {result.violation}"


def test_regression_a_removed_leaders_configuration_is_not_in_play() -> None:
    # Found by a walk: after the leader (sole voter of {1} + learner 3) crashed, the
    # durability check took a lagging node's stale configuration {1, 2, 3} as current.
    result = walk(93, steps=400, nodes=3, max_entries_per_msg=1)
    assert result.violation is None, result.violation
