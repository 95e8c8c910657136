"""Every verdict each vector experiment's rule can give, from plausible measured values."""

from __future__ import annotations

import pytest

from archlab.lab import Judgement
from archlab.vector.experiments.curves import CurvePoint, RecallVsEf, judge_recall_vs_ef
from archlab.vector.experiments.heuristic import HeuristicEffect, SelectionRun, judge_heuristic
from archlab.vector.experiments.memory import MemoryCost, MemoryPoint, judge_memory_cost
from archlab.vector.experiments.scaling import SearchScaling, SizePoint, judge_search_scaling


def cites_its_thresholds(j: Judgement) -> None:
    assert j.evidence, "every verdict cites the numbers it compared"
    assert any(e.threshold is not None and e.threshold.source for e in j.evidence)


def scaling(exponent: float, reached: float = 1.0) -> SearchScaling:
    point = SizePoint(1000, 16, 0.99, 158.0, 9.9, 1000.0, 371.0, 1.5)
    return SearchScaling(0.99, [point], reached, exponent, -59.0, 31.0, 0.46, 0.62, 114.0)


@pytest.mark.parametrize(
    ("measured", "verdict"),
    [
        (scaling(0.12), "holds"),
        (scaling(0.152), "nuanced"),  # measured: uniform d=8, 10^3..3·10^4, recall 0.99
        (scaling(0.597), "refuted"),  # measured: isotropic d=32 (--set data=isotropic dim=32)
        (scaling(0.1, reached=0.75), "refuted"),
    ],
)
def test_search_scaling_verdicts(measured: SearchScaling, verdict: str) -> None:
    judgement = judge_search_scaling(measured)
    assert judgement.verdict == verdict
    cites_its_thresholds(judgement)


def memory(low: float, high: float) -> MemoryCost:
    point = MemoryPoint(384, 16, 1536.0, 128.0, 4.19, 86.1, 151.1, 1687.0, 1684.0)
    return MemoryCost([point], 32, 384, low, high, 1.002)


@pytest.mark.parametrize(
    ("measured", "verdict"),
    [
        (memory(1.03, 0.4), "holds"),
        (memory(1.03, 0.086), "nuanced"),  # measured: d=32 and d=384 (MiniLM), M=16
        (memory(0.2, 0.086), "refuted"),
    ],
)
def test_memory_cost_verdicts(measured: MemoryCost, verdict: str) -> None:
    judgement = judge_memory_cost(measured)
    assert judgement.verdict == verdict
    cites_its_thresholds(judgement)


def effect(clustered: float, uniform: float) -> HeuristicEffect:
    runs = [SelectionRun("clustered", "heuristic", True, 83.3, 0.99)]
    return HeuristicEffect(0.95, runs, clustered, uniform)


@pytest.mark.parametrize(
    ("measured", "verdict"),
    [
        (effect(7.48, 1.09), "holds"),  # measured: n=4000, d=8, M=8
        (effect(1.3, 1.6), "nuanced"),
        (effect(1.02, 1.0), "refuted"),
        (effect(0.8, 1.2), "refuted"),
    ],
)
def test_heuristic_verdicts(measured: HeuristicEffect, verdict: str) -> None:
    judgement = judge_heuristic(measured)
    assert judgement.verdict == verdict
    cites_its_thresholds(judgement)


def curves(fraction: float, reached: float = 1.0) -> RecallVsEf:
    points = [CurvePoint("archlab", 64, 0.961, 2387.0, 1127.0)]
    return RecallVsEf(
        "minilm", 8000, 0.95, points, 318.0, reached, fraction, 3892.0, 2331.0, None, 0.004
    )


@pytest.mark.parametrize(
    ("measured", "verdict"),
    [
        (curves(0.04), "holds"),
        (curves(0.118), "nuanced"),  # measured: MiniLM, n=8000, M=16, efConstruction=200
        (curves(1.0, reached=0.0), "refuted"),
    ],
)
def test_recall_vs_ef_verdicts(measured: RecallVsEf, verdict: str) -> None:
    judgement = judge_recall_vs_ef(measured)
    assert judgement.verdict == verdict
    cites_its_thresholds(judgement)
