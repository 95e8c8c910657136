"""HOL blocking: the deterministic tier (aioquic sans-IO on a virtual clock) and the judge."""

from __future__ import annotations

import dataclasses

from archlab.lab.judging import flatten, rejudge
from archlab.net.experiments import HolMeasurement, LossPoint, judge_hol_blocking
from archlab.net.experiments.hol_blocking import released_together
from archlab.net.hol import response_sizes, run_streams


def test_lossless_runs_deliver_every_stream_in_the_same_time_either_way() -> None:
    quic = run_streams("quic", streams=4, size=32 * 1024)
    ordered = run_streams("ordered", streams=4, size=32 * 1024)
    assert quic.dropped == ordered.dropped == 0
    for a, b in zip(quic.completion_ms, ordered.completion_ms, strict=True):
        assert abs(a - b) < 10
    assert quic.completion_ms == sorted(quic.completion_ms)  # growing sizes finish in turn
    assert response_sizes(32 * 1024, 4) == [8192, 16384, 24576, 32768]


def test_one_lost_packet_stalls_later_streams_only_on_the_ordered_stream() -> None:
    base = {v: run_streams(v).completion_ms for v in ("quic", "ordered")}
    lossy = {v: run_streams(v, down_drops=frozenset({118})).completion_ms for v in base}
    # the same datagram lost: the ordered stream releases several streams at one instant
    assert released_together(lossy["ordered"], base["ordered"]) >= 3
    assert released_together(lossy["quic"], base["quic"]) == 1
    # and the runs are deterministic: the same pattern gives the same times
    assert run_streams("quic", down_drops=frozenset({118})).completion_ms == lossy["quic"]


def test_released_together_counts_late_streams_finishing_at_one_instant() -> None:
    assert released_together([10.0, 50.0, 50.0, 50.0], [10.0, 20.0, 30.0, 40.0]) == 3
    assert released_together([10.0, 25.0, 35.0, 45.0], [10.0, 20.0, 30.0, 40.0]) == 1
    assert released_together([10.0, 20.0], [10.0, 20.0]) == 0


def _point(rate: float, ratio: float) -> LossPoint:
    return LossPoint(rate, 200.0, 200.0 * ratio, ratio, ratio - 0.03, ratio + 0.03)


#: The quick profile's measurement: the mechanism is there, the mean barely moves.
MEASURED = HolMeasurement(
    streams_delayed_per_loss={"quic": 1.17, "ordered": 3.83},
    points=[_point(0.0, 0.994), _point(0.01, 1.03), _point(0.02, 1.04), _point(0.05, 1.01)],
    matters_at=-1.0,
)


def test_measured_is_nuanced_and_round_trips() -> None:
    judgement = judge_hol_blocking(MEASURED)
    assert judgement.verdict == "nuanced"
    assert rejudge(judge_hol_blocking, flatten(MEASURED)) == judgement


def test_a_difference_at_low_loss_holds() -> None:
    points = [_point(0.0, 1.0), _point(0.01, 1.15), _point(0.02, 1.3)]
    m = dataclasses.replace(MEASURED, points=points, matters_at=0.01)
    judgement = judge_hol_blocking(m)
    assert judgement.verdict == "holds" and "from 1.0% loss" in judgement.reason


def test_a_difference_only_at_high_loss_is_nuanced() -> None:
    points = [_point(0.0, 1.0), _point(0.02, 1.05), _point(0.05, 1.2)]
    m = dataclasses.replace(MEASURED, points=points, matters_at=0.05)
    assert judge_hol_blocking(m).verdict == "nuanced"


def test_quic_stalling_every_stream_too_is_refuted() -> None:
    m = dataclasses.replace(MEASURED, streams_delayed_per_loss={"quic": 4.0, "ordered": 4.0})
    assert judge_hol_blocking(m).verdict == "refuted"
