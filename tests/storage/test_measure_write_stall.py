"""storage.write_stall: both halves of the claim can fail; the judge's verdicts."""

from __future__ import annotations

import pytest

from archlab.storage.measure_write_stall import Phase, WriteStall, judge_write_stall
from tests.storage.judges import cites_its_thresholds


def phase(rate: float, stalled: float) -> Phase:
    return Phase(rate, 1.5, stalled, int(stalled * 1000), stalled, 0.0, 5 if stalled else 2)


def measurement(fast: float, slow: float, throttle: float = 0.25) -> WriteStall:
    return WriteStall(phase(8849.0, fast), phase(2212.0, slow), throttle)


@pytest.mark.parametrize(
    ("m", "verdict"),
    [
        (measurement(0.301, 0.0), "holds"),  # the quick profile as measured (seed 0)
        # measured with --set throttle=1.0: "sustainable" at the flat-out rate stalled 20%
        (measurement(0.331, 0.201, throttle=1.0), "refuted"),
        (measurement(0.004, 0.0), "refuted"),  # writes outran compaction without a stall
        (measurement(0.03, 0.0), "nuanced"),
        (measurement(0.3, 0.02), "nuanced"),
    ],
)
def test_the_judge_reaches_each_verdict(m: WriteStall, verdict: str) -> None:
    judgement = judge_write_stall(m)
    assert judgement.verdict == verdict
    assert cites_its_thresholds(judgement)
