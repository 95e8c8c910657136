"""The 5.1 judges give each verdict they can give, from hand-made measurements."""

from __future__ import annotations

from archlab.sim.experiments import (
    judge_linearizable_not_serializable,
    judge_serializable_not_linearizable,
    judge_serializable_not_strict,
)


def test_lagging_replica_judge() -> None:
    judge = judge_serializable_not_linearizable
    base = {"seeds": 20, "primary_not_linearizable": 0, "replica_not_serializable": 0}
    good = {**base, "replica_not_linearizable": 20, "unknown_checks": 0}
    assert judge(good).verdict == "holds"
    # Stale reads in only a few seeds: the difference is real but rare.
    assert judge({**good, "replica_not_linearizable": 3}).verdict == "nuanced"
    # The control failing too muddies the cause.
    assert judge({**good, "primary_not_linearizable": 2}).verdict == "nuanced"
    assert judge({**good, "replica_not_linearizable": 0}).verdict == "refuted"
    assert judge({**good, "replica_not_serializable": 1}).verdict == "refuted"
    assert "2 checks inconclusive" in judge({**good, "unknown_checks": 2}).reason


def test_write_skew_judge() -> None:
    judge = judge_linearizable_not_serializable
    good = {
        "seeds": 20,
        "not_linearizable": 0,
        "not_serializable": 18,
        "g2_seeds": 15,
        "unknown_checks": 0,
    }
    assert judge(good).verdict == "holds"
    assert judge({**good, "not_serializable": 2, "g2_seeds": 2}).verdict == "nuanced"
    assert judge({**good, "g2_seeds": 0}).verdict == "nuanced"
    assert judge({**good, "not_serializable": 0, "g2_seeds": 0}).verdict == "refuted"
    assert judge({**good, "not_linearizable": 1}).verdict == "refuted"


def test_skewed_clocks_judge() -> None:
    judge = judge_serializable_not_strict
    good = {
        "seeds": 12,
        "skew_ms": 50.0,
        "synced_skew_ms": 0.0,
        "not_serializable": 0,
        "skewed_not_strict": 12,
        "synced_not_strict": 0,
        "smallest_violating_skew_ms": 20.0,
        "unknown_checks": 0,
    }
    assert judge(good).verdict == "holds"
    assert "20 ms" in judge(good).reason and "50 ms" in judge(good).reason
    assert judge({**good, "synced_not_strict": 3}).verdict == "nuanced"
    assert judge({**good, "skewed_not_strict": 2}).verdict == "nuanced"
    none = {**good, "skewed_not_strict": 0, "smallest_violating_skew_ms": None}
    assert judge(none).verdict == "refuted"
    assert judge({**good, "not_serializable": 1}).verdict == "refuted"
