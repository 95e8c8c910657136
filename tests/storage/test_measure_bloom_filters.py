"""storage.bloom_filters: the judge gives each verdict from plausible filter measurements."""

from __future__ import annotations

import pytest

from archlab.storage.bloom import theoretical_fp_rate
from archlab.storage.measure_bloom_filters import (
    BloomFilters,
    FilterPoint,
    LookupRun,
    judge_bloom,
)
from tests.storage.judges import cites_its_thresholds


def curve(scale: float) -> list[FilterPoint]:
    points = []
    for bits in (1, 4, 10, 16):
        theory = theoretical_fp_rate(bits)
        points.append(FilterPoint(bits, 7, theory * scale, theory, theory * 20000))
    return points


def measurement(read_with: float, latency_with: float, scale: float) -> BloomFilters:
    return BloomFilters(
        with_filter=LookupRun(4, read_with, latency_with, 4900, 160),
        without_filter=LookupRun(4, 4.0, 20.0, 0, 0),
        curve=curve(scale),
    )


@pytest.mark.parametrize(
    ("m", "verdict"),
    [
        # the quick profile as measured (seed 0): 0.033 of 4 tables read, 2.3x faster, 5% off
        (measurement(0.0332, 8.7, 1.05), "holds"),
        (measurement(0.0332, 19.0, 1.05), "nuanced"),  # no faster: reads were cheap anyway
        (measurement(0.12, 8.7, 1.05), "nuanced"),  # 3% read: more than ~1%
        (measurement(3.9, 19.0, 1.0), "refuted"),  # a filter that says yes to everything
        (measurement(0.0332, 8.7, 2.5), "refuted"),  # the formula off by 2.5x
    ],
)
def test_the_judge_reaches_each_verdict(m: BloomFilters, verdict: str) -> None:
    judgement = judge_bloom(m)
    assert judgement.verdict == verdict
    assert cites_its_thresholds(judgement)


def test_only_points_with_enough_expected_hits_are_compared() -> None:
    m = measurement(0.0332, 8.7, 1.0)
    rare = FilterPoint(16, 11, 0.004, 0.0005, 10.0)  # 10 expected hits: 8x off, not judged
    assert (
        BloomFilters(m.with_filter, m.without_filter, [*m.curve, rare]).worst_formula_error < 0.01
    )
