"""storage.lsm_vs_btree_writes: the judge needs the claim's regime and gives each verdict."""

from __future__ import annotations

import dataclasses

import pytest

from archlab.storage.measure_lsm_vs_btree import EngineRun, LsmVsBtree, judge_lsm_vs_btree
from tests.storage.judges import cites_its_thresholds


def engine(rate: float, bytes_per_user: float, sequential: float) -> EngineRun:
    return EngineRun(
        rate, 0.9 * rate, 1.1 * rate, bytes_per_user, sequential, syncs=300, memory_bytes=1 << 18
    )


def measurement(lsm: float, small: float, whole: float, **regime: int) -> LsmVsBtree:
    shape = {"lsm_levels_compacted": 3, "btree_pages": 526, "btree_small_pool_frames": 48}
    shape.update(regime)
    return LsmVsBtree(
        keys=12000,
        lsm_compactions=19,
        btree_checkpoints_small_pool=327,
        runs={
            "lsm": engine(lsm, 8.1, 1.0),
            "btree_small_pool": engine(small, 67.7, 0.6),
            "btree_tree_in_pool": engine(whole, 4.2, 1.0),
        },
        **shape,
    )


# The quick profile as measured (seed 0): LSM 34,675 writes/s, B+-tree 14,094 with the tree 11x
# its pool and 216,808 with the whole tree in its pool.
QUICK = measurement(34675.0, 14094.0, 216808.0)
# Measured while tuning the profile (40,000 keys, 32 KiB tables, B+-tree 27x its pool): per-table
# fsync, close and directory sync made the LSM 2,461 writes/s against the B+-tree's 4,748.
TINY_TABLES = measurement(2461.0, 4748.0, 72474.0, btree_pages=1758, btree_small_pool_frames=64)


@pytest.mark.parametrize(
    ("m", "verdict"),
    [
        (QUICK, "nuanced"),  # the LSM wins only once the tree outgrows its pool
        (measurement(34675.0, 14094.0, 30000.0), "holds"),  # and when it beats both
        (TINY_TABLES, "refuted"),
        (measurement(20000.0, 18000.0, 30000.0), "nuanced"),  # within the spread
        (measurement(34675.0, 14094.0, 30000.0, lsm_levels_compacted=0), "nuanced"),
        (measurement(34675.0, 14094.0, 30000.0, btree_pages=200), "nuanced"),
    ],
)
def test_the_judge_reaches_each_verdict(m: LsmVsBtree, verdict: str) -> None:
    judgement = judge_lsm_vs_btree(m)
    assert judgement.verdict == verdict
    assert cites_its_thresholds(judgement)


def test_the_verdict_says_under_which_condition_each_engine_wins() -> None:
    reason = judge_lsm_vs_btree(QUICK).reason
    assert "outgrows its buffer pool" in reason and "while it fits" in reason


def test_a_run_outside_the_regime_is_not_judged_on_speed() -> None:
    # the original quick profile: one flush, no compaction
    judgement = judge_lsm_vs_btree(dataclasses.replace(QUICK, lsm_levels_compacted=0))
    assert judgement.verdict == "nuanced" and "not the claim's regime" in judgement.reason


def test_a_median_lead_inside_the_measured_spread_is_not_a_win() -> None:
    # 1.5x at the median, but the LSM's slowest repeat lost to the B+-tree's fastest
    noisy = dataclasses.replace(
        QUICK.runs["lsm"], writes_per_s=30000.0, slowest_per_s=12000.0, fastest_per_s=40000.0
    )
    btree = dataclasses.replace(
        QUICK.runs["btree_small_pool"], writes_per_s=20000.0, fastest_per_s=25000.0
    )
    m = dataclasses.replace(
        QUICK,
        runs={**QUICK.runs, "lsm": noisy, "btree_small_pool": btree, "btree_tree_in_pool": noisy},
    )
    judgement = judge_lsm_vs_btree(m)
    assert judgement.verdict == "nuanced"
    assert [e.met for e in judgement.evidence if e.name.startswith("LSM slowest")] == [False]
