"""Zero copy (7.1): both ways of serving deliver every byte; the judge reads the ratios."""

from __future__ import annotations

from pathlib import Path

import pytest

from archlab.streaming import zerocopy
from archlab.streaming.experiments import ZeroCopyMeasurement, judge_zero_copy


@pytest.mark.parametrize("method", zerocopy.METHODS)
def test_every_byte_arrives(tmp_path: Path, method: zerocopy.Method) -> None:
    payload = tmp_path / "segment"
    zerocopy.make_payload(payload, 3 * 2**20 + 17)
    with zerocopy.Receiver() as receiver:
        run = zerocopy.serve_once(payload, receiver.address, method, passes=2, buffer_size=65536)
        assert receiver.received() == run.bytes_sent == 2 * (3 * 2**20 + 17)
    assert run.cpu_seconds >= 0 and run.seconds > 0


@pytest.mark.parametrize(
    ("cpu", "speed", "verdict"),
    [(1.6, 1.2, "holds"), (1.0, 1.0, "refuted"), (1.5, 0.8, "nuanced"), (1.1, 1.3, "nuanced")],
)
def test_the_judge_reaches_each_verdict(cpu: float, speed: float, verdict: str) -> None:
    measured = ZeroCopyMeasurement(cpu, speed, sendfile_mb_s=1000.0, read_send_mb_s=900.0)
    judgement = judge_zero_copy(measured)
    assert judgement.verdict == verdict
    assert judgement.evidence, "every verdict cites the numbers it compared"
    assert all(e.threshold is not None and e.threshold.source for e in judgement.evidence)
