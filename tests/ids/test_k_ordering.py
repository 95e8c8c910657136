"""Experiment 6.2 (k-ordering): the disorder measures, the merged stream, and the judge."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, strategies as st

from archlab.ids.kordering import count_inversions, disorder, merged_stream
from archlab.ids.measure_k_ordering import (
    KOrderingMeasurement,
    SchemeDisorder,
    SkewRun,
    judge_k_ordering,
    order_bound,
)


@given(st.permutations(list(range(40))))
def test_inversions_match_the_quadratic_count(perm: list[int]) -> None:
    brute = sum(1 for i, j in itertools.combinations(range(len(perm)), 2) if perm[i] > perm[j])
    assert count_inversions(perm) == brute


def test_inversions_of_sorted_and_reversed() -> None:
    assert count_inversions(list(range(1000))) == 0
    assert count_inversions(list(range(999, -1, -1))) == 1000 * 999 // 2
    assert count_inversions([]) == count_inversions([0]) == 0


def test_disorder_of_a_known_sequence() -> None:
    # IDs 10, 30, 20, 40 arriving at 0, 1, 2, 3 ms: one inversion of six pairs; 30 and 20 each
    # sort one place (1 ms) from where they arrived.
    d = disorder([10, 30, 20, 40], [0.0, 1.0, 2.0, 3.0])
    assert d.inversion_fraction == 1 / 6
    assert d.max_displacement == 1 and d.max_window_ms == 1.0


def test_merged_stream_is_in_arrival_order_and_deterministic() -> None:
    kwargs = {"n": 500, "machines": 4, "rate_per_s": 1000.0, "skew_ms": 5.0, "drift": 1e-4}
    a = merged_stream("ulid", delay_ms=3.0, rng=random.Random(9), **kwargs)  # type: ignore[arg-type]
    b = merged_stream("ulid", delay_ms=3.0, rng=random.Random(9), **kwargs)  # type: ignore[arg-type]
    assert a == b
    assert a[1] == sorted(a[1]) and len(set(a[0])) == 500


def test_skew_widens_the_window_of_millisecond_ids() -> None:
    def window(skew: float) -> float:
        ids, arrivals = merged_stream(
            "snowflake",
            n=2000,
            machines=6,
            rate_per_s=1000.0,
            skew_ms=skew,
            drift=0.0,
            delay_ms=1.0,
            rng=random.Random(4),
        )
        return disorder(ids, arrivals).max_window_ms

    assert window(0.0) < 5
    assert window(300.0) > 100


def scheme(window_ms: float, inversions: float = 0.0004) -> SchemeDisorder:
    return SchemeDisorder(inversions, max_displacement=12, max_window_ms=window_ms,
                          p99_window_ms=window_ms / 2)  # fmt: skip


#: The quick profile's windows (seed 0): ±10 ms skew, 5 ms log delay, 16.4 s of IDs.
MEASURED = {
    0.0: {"snowflake": 5.72, "ulid": 5.61, "uuid7": 5.51, "ksuid": 978.0, "uuid4": 15_925.0},
    10.0: {"snowflake": 18.2, "ulid": 16.2, "uuid7": 17.4, "ksuid": 990.0, "uuid4": 15_457.0},
    100.0: {"snowflake": 107.0, "ulid": 129.0, "uuid7": 134.0, "ksuid": 1070.0, "uuid4": 15_953.0},
    1000.0: {
        "snowflake": 1133.0,
        "ulid": 729.0,
        "uuid7": 820.0,
        "ksuid": 1681.0,
        "uuid4": 15_766.0,
    },
}


def measurement(
    judged_skew: float = 10.0,
    windows: dict[float, dict[str, float]] | None = None,
    uuid4: float = 0.498,
) -> KOrderingMeasurement:
    runs = [
        SkewRun(
            skew_ms=skew,
            duration_ms=16_367.0,
            schemes={k: scheme(w, uuid4 if k == "uuid4" else 0.0004) for k, w in by_kind.items()},
        )
        for skew, by_kind in (windows or MEASURED).items()
    ]
    return KOrderingMeasurement(n=8000, skew_ms=judged_skew, delay_ms=5.0, drift=1e-4, runs=runs)


def test_the_bound_is_twice_the_skew_plus_resolution_delay_and_drift() -> None:
    run = SkewRun(skew_ms=10.0, duration_ms=16_000.0, schemes={})
    assert order_bound("ulid", run, delay_ms=5.0, drift=1e-4) == pytest.approx(
        20 + 1 + 5 + 2 * 1e-4 * 16_005
    )
    assert order_bound("ksuid", run, delay_ms=5.0, drift=0.0) == 20 + 1000 + 5


def test_the_measured_run_holds() -> None:
    judgement = judge_k_ordering(measurement())
    assert judgement.verdict == "holds"
    assert all(e.met for e in judgement.evidence)


def test_a_stream_sorted_by_timestamp_stays_inside_the_bound() -> None:
    """The bound is physical: a real merged stream never exceeds it, at any skew."""
    for skew in (0.0, 20.0, 300.0):
        for kind in ("snowflake", "ksuid"):
            ids, arrivals = merged_stream(
                kind, n=3000, machines=6, rate_per_s=800.0, skew_ms=skew, drift=1e-4,
                delay_ms=4.0, rng=random.Random(int(skew) + len(kind)),
            )  # fmt: skip
            d = disorder(ids, arrivals)
            run = SkewRun(skew, arrivals[-1] - arrivals[0], {})
            assert d.max_window_ms <= order_bound(kind, run, delay_ms=4.0, drift=1e-4)


def test_judged_at_a_large_skew_ksuid_is_not_coarser() -> None:
    """At ±1000 ms the clocks, not KSUID's one-second resolution, set every window."""
    judgement = judge_k_ordering(measurement(judged_skew=1000.0))
    assert judgement.verdict == "nuanced" and "not measurably coarser" in judgement.reason


def test_a_window_wider_than_the_skew_allows_is_refuted() -> None:
    """The old rule let a 10 ms skew stretch to 25% of the run (4 s); now 200 ms refutes."""
    windows = {skew: dict(by_kind) for skew, by_kind in MEASURED.items()}
    windows[10.0]["ulid"] = 200.0
    judgement = judge_k_ordering(measurement(windows=windows))
    assert judgement.verdict == "refuted" and "ULID" in judgement.reason
    assert [e.name for e in judgement.evidence if e.met is False] == [
        "ULID: largest window / bound (worst skew, ±10 ms)"
    ]


def test_random_uuids_that_came_out_ordered_are_refuted() -> None:
    judgement = judge_k_ordering(measurement(uuid4=0.01))
    assert judgement.verdict == "refuted" and "UUIDv4" in judgement.reason


def test_a_scheme_that_does_not_sort_by_its_timestamp_is_caught() -> None:
    """A real run with random IDs standing in for ULIDs: the bound catches it at every skew."""
    runs = []
    for skew in (0.0, 10.0):
        schemes = {}
        for kind in ("snowflake", "ulid", "uuid7", "ksuid", "uuid4"):
            generated = "uuid4" if kind == "ulid" else kind  # the broken variant
            ids, arrivals = merged_stream(
                generated, n=2000, machines=4, rate_per_s=500.0, skew_ms=skew, drift=1e-4,
                delay_ms=5.0, rng=random.Random(7),
            )  # fmt: skip
            d = disorder(ids, arrivals)
            schemes[kind] = SchemeDisorder(
                d.inversion_fraction, d.max_displacement, d.max_window_ms, d.p99_window_ms
            )
        runs.append(SkewRun(skew, arrivals[-1] - arrivals[0], schemes))
    measured = KOrderingMeasurement(n=2000, skew_ms=10.0, delay_ms=5.0, drift=1e-4, runs=runs)
    judgement = judge_k_ordering(measured)
    assert judgement.verdict == "refuted" and "ULID" in judgement.reason
