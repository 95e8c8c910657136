"""Open Connect (10.3): the fill simulation's invariants, and the judge."""

from __future__ import annotations

import pytest

from archlab.cases.openconnect.experiments import (
    FillPoint,
    OpenConnectMeasurement,
    judge_open_connect_fill,
)
from archlab.cases.openconnect.model import FillConfig, simulate

SMALL = FillConfig(titles=400, views_per_day=3000, days=4, cache_share=0.3)


def test_the_same_seed_gives_the_same_day_and_pull_and_push_the_same_views() -> None:
    assert simulate(SMALL, "pull", 3) == simulate(SMALL, "pull", 3)
    pull, push = simulate(SMALL, "pull", 3), simulate(SMALL, "push", 3)
    assert pull.viewed == pytest.approx(push.viewed)
    assert pull.fill_share == 0.0 and push.fill_share > 0.0


def test_push_fill_runs_only_in_the_window() -> None:
    quiet = FillConfig(**{**SMALL.__dict__, "views_per_day": 1})
    push = simulate(quiet, "push", 1)
    assert push.off_peak_share > 0.9, "with next to no views, upstream is the fill"
    assert push.peak_upstream <= push.total_upstream * 0.1


def test_a_perfect_forecast_beats_lru_and_a_poor_one_does_not() -> None:
    pull = simulate(SMALL, "pull", 5)
    perfect = simulate(FillConfig(**{**SMALL.__dict__, "noise": 0.0}), "push", 5)
    poor = simulate(FillConfig(**{**SMALL.__dict__, "noise": 3.0}), "push", 5)
    assert perfect.hit_ratio > pull.hit_ratio > poor.hit_ratio
    assert perfect.peak_upstream < pull.peak_upstream < poor.peak_upstream


def test_bad_configurations_are_refused() -> None:
    with pytest.raises(ValueError):
        FillConfig(cache_share=0.0)
    with pytest.raises(ValueError):
        FillConfig(days=2, warmup_days=2)


def _measured(cuts: dict[str, float]) -> OpenConnectMeasurement:
    points = [
        FillPoint(0.1, -1.0, "pull", 0.50, 0.188, 0.26, 0.0),
        FillPoint(0.1, 0.5, "push", 0.61, 0.144, 0.27, 0.05),
    ]
    return OpenConnectMeasurement(judged_noise=0.5, points=points, peak_cut=cuts)


@pytest.mark.parametrize(
    ("cuts", "verdict"),
    [
        ({"cs10": 1.30, "cs30": 1.29}, "holds"),  # quick profile, this machine
        ({"cs10": 1.30, "cs30": 1.05}, "nuanced"),
        ({"cs10": 0.81, "cs30": 0.85}, "refuted"),  # a forecast with sigma 2 in the same runs
    ],
)
def test_the_judge_reaches_each_verdict(cuts: dict[str, float], verdict: str) -> None:
    judgement = judge_open_connect_fill(_measured(cuts))
    assert judgement.verdict == verdict, judgement.reason
    assert all(e.threshold is not None and e.threshold.source for e in judgement.evidence)
