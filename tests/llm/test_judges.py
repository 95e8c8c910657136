"""Each chapter 8.2 judge reaches every verdict from plausible measurements."""

from __future__ import annotations

import dataclasses

import pytest

from archlab.lab import Judgement
from archlab.llm.experiments.batching import (
    BatchingMeasurement,
    BatchingRun,
    judge_continuous_batching,
)
from archlab.llm.experiments.kv_waste import KVWasteMeasurement, TraceWaste, judge_kv_waste
from archlab.llm.experiments.prefix import PrefixMeasurement, judge_prefix_sharing
from archlab.llm.experiments.speculation import (
    PairRun,
    SpeculativeMeasurement,
    judge_speculative,
)


def cited(judgement: Judgement) -> Judgement:
    assert judgement.evidence
    assert all(e.threshold is not None and e.threshold.source for e in judgement.evidence)
    return judgement


# Measured by the quick profile (seed 0): ShareGPT and Alpaca-like traces.
SHAREGPT = TraceWaste(161.8, 327.0, 0.743, 0.556, 0.409, 0.014, 16.0, 61.4)
ALPACA = TraceWaste(19.6, 60.1, 0.949, 0.617, 0.447, 0.0667, 16.0, 293.0)


@pytest.mark.parametrize(
    ("alpaca_paged", "sharegpt_max", "verdict"),
    [
        (0.03, 0.743, "holds"),
        (0.0667, 0.743, "nuanced"),  # the real quick-profile measurement
        (0.03, 0.45, "nuanced"),
        (0.03, 0.12, "refuted"),  # requests that nearly fill the context: nothing to win
    ],
)
def test_kv_waste_judge(alpaca_paged: float, sharegpt_max: float, verdict: str) -> None:
    m = KVWasteMeasurement(
        dataclasses.replace(SHAREGPT, waste_max=sharegpt_max),
        dataclasses.replace(ALPACA, waste_paged=alpaca_paged),
        16,
        2048,
    )
    assert cited(judge_kv_waste(m)).verdict == verdict


def run(tokens: float, p50: float) -> BatchingRun:
    return BatchingRun(tokens, p50, 3 * p50, 8.0, 1000)


@pytest.mark.parametrize(
    ("static", "continuous", "verdict"),
    [
        (run(117.0, 34.5), run(200.0, 2.1), "holds"),  # quick profile, seed 0
        (run(195.0, 2.15), run(200.0, 2.1), "refuted"),  # light load: batches never wait
        (run(150.0, 9.0), run(200.0, 8.0), "nuanced"),
    ],
)
def test_continuous_batching_judge(
    static: BatchingRun, continuous: BatchingRun, verdict: str
) -> None:
    m = BatchingMeasurement(static, continuous, 4.0, 30.0, 1.5)
    assert cited(judge_continuous_batching(m)).verdict == verdict


@pytest.mark.parametrize(("real", "verdict"), [(1.8, "holds"), (0.97, "nuanced")])
def test_continuous_batching_judge_weighs_the_real_model(real: float, verdict: str) -> None:
    m = BatchingMeasurement(run(117.0, 34.5), run(200.0, 2.1), 4.0, 30.0, 1.5, True, real)
    assert cited(judge_continuous_batching(m)).verdict == verdict


CLOSE = PairRun(0.95, 0.951, 4.52, 4.52, 0.49)
FAR = PairRun(0.6, 0.592, 2.27, 2.27, 8.86)


@pytest.mark.parametrize(
    ("close", "smollm", "verdict"),
    [
        (CLOSE, (False, False, 0.0), "holds"),
        (CLOSE, (True, True, 1.6), "holds"),
        (CLOSE, (True, True, 0.8), "nuanced"),  # exact, but slower on this CPU
        (dataclasses.replace(CLOSE, tokens_per_pass=3.9), (False, False, 0.0), "nuanced"),
        (dataclasses.replace(CLOSE, chi2=95.0), (False, False, 0.0), "refuted"),  # keeps q
        (CLOSE, (True, False, 1.6), "refuted"),
    ],
)
def test_speculative_judge(close: PairRun, smollm: tuple[bool, bool, float], verdict: str) -> None:
    m = SpeculativeMeasurement(close, FAR, 4, smollm[0], smollm[1], smollm[2], 2.0)
    assert cited(judge_speculative(m)).verdict == verdict


@pytest.mark.parametrize(
    ("parallel", "system", "verdict"),
    [
        (0.0777, 0.67, "holds"),  # quick profile, seed 0
        (0.03, 0.67, "nuanced"),
        (0.0777, 0.30, "nuanced"),
        (0.0, 0.0, "refuted"),
    ],
)
def test_prefix_sharing_judge(parallel: float, system: float, verdict: str) -> None:
    m = PrefixMeasurement(parallel, 4, system, 0.67, 200, 64)
    assert cited(judge_prefix_sharing(m)).verdict == verdict
