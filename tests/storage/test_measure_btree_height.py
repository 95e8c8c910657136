"""storage.btree_height: the judge gives each verdict from plausible tree shapes."""

from __future__ import annotations

import pytest

from archlab.storage.measure_btree_height import (
    BTreeHeight,
    TreeSize,
    height_bound,
    judge_btree_height,
)
from tests.storage.judges import cites_its_thresholds


def size(keys: int, height: int, leaves: int, fanout: float, reads: int | None = None) -> TreeSize:
    cold = height if reads is None else reads
    return TreeSize(
        keys=keys,
        height=height,
        leaves=leaves,
        fanout=fanout,
        bound=height_bound(leaves, fanout),
        cold_reads_min=height,
        cold_reads_max=cold,
        warm_reads=0.5,
        warm_us=10.0,
    )


# The quick profile's measured shapes (seed 0): 15, 128 and 528 leaves.
MEASURED = [size(1000, 2, 15, 15.0), size(10000, 2, 128, 128.0), size(40000, 3, 528, 106.0)]


def test_the_bound_is_one_plus_log_base_fanout_of_the_leaves() -> None:
    assert height_bound(1, 0.0) == 1
    assert height_bound(128, 128.0) == 2
    assert height_bound(129, 128.0) == 3
    assert height_bound(528, 106.0) == 3


@pytest.mark.parametrize(
    ("sizes", "verdict"),
    [
        (MEASURED, "holds"),
        # a lookup that reads a page more than the height: not one page per level
        ([*MEASURED[:2], size(40000, 3, 528, 106.0, reads=4)], "refuted"),
        # a tree taller than log_B N allows for its fanout
        ([*MEASURED[:2], size(40000, 5, 528, 106.0)], "refuted"),
        # all one height: the sizes did not span a level
        (MEASURED[:2], "nuanced"),
    ],
)
def test_the_judge_reaches_each_verdict(sizes: list[TreeSize], verdict: str) -> None:
    judgement = judge_btree_height(BTreeHeight(sizes))
    assert judgement.verdict == verdict
    assert cites_its_thresholds(judgement)
