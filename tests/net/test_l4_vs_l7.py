"""The judge of ``net.l4_vs_l7``: each verdict from plausible measurements."""

from __future__ import annotations

import dataclasses

from archlab.lab.judging import flatten, rejudge
from archlab.net.experiments import L4L7Measurement, judge_l4_vs_l7

#: The quick profile's numbers on this machine (2 cores, loaded): L7 costs 3x with keep-alive,
#: but without keep-alive L4 pays a backend handshake per connection and costs more.
MEASURED = L4L7Measurement(
    rps={
        "direct_keepalive": 26188,
        "l4_keepalive": 13601,
        "l7_keepalive": 6076,
        "direct_close": 4476,
        "l4_close": 2298,
        "l7_close": 3014,
    },
    cpu_us_per_request={
        "l4_keepalive": 25.2,
        "l7_keepalive": 74.5,
        "l4_close": 182.0,
        "l7_close": 139.0,
    },
    added_p50_ms={"l4_keepalive": 0.101, "l7_keepalive": 0.416},
    l7_cpu_ratio={"keepalive": 2.96, "close": 0.767},
    l4_throughput_ratio={"keepalive": 2.24, "close": 0.76},
    l7_routes_by_path=True,
    l4_routes_by_path=False,
    keys_moved={"consistent_hash": 0.2, "maglev": 0.21, "hash_mod": 0.8},
)


def test_measured_is_nuanced_and_round_trips() -> None:
    judgement = judge_l4_vs_l7(MEASURED)
    assert judgement.verdict == "nuanced"
    assert "keep-alive on only" in judgement.reason
    assert rejudge(judge_l4_vs_l7, flatten(MEASURED)) == judgement


def test_cost_in_both_modes_holds() -> None:
    m = dataclasses.replace(MEASURED, l7_cpu_ratio={"keepalive": 2.9, "close": 1.5})
    assert judge_l4_vs_l7(m).verdict == "holds"


def test_no_cost_is_refuted() -> None:
    m = dataclasses.replace(MEASURED, l7_cpu_ratio={"keepalive": 1.02, "close": 0.8})
    assert judge_l4_vs_l7(m).verdict == "refuted"


def test_routing_that_does_not_separate_them_is_refuted() -> None:
    m = dataclasses.replace(MEASURED, l4_routes_by_path=True)
    assert judge_l4_vs_l7(m).verdict == "refuted"
    m = dataclasses.replace(MEASURED, l7_routes_by_path=False)
    assert judge_l4_vs_l7(m).verdict == "refuted"
