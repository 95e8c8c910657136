"""Experiment 6.2 (k-ordering): the disorder measures, the merged stream, and the judge."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, strategies as st

from archlab.ids.experiments import KINDS, judge_k_ordering
from archlab.ids.kordering import count_inversions, disorder, merged_stream
from archlab.lab import Value


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


def values(**over: float) -> dict[str, Value]:
    base: dict[str, Value] = {"duration_ms": 16_000.0, "skew_ms": 10.0}
    for k in KINDS:
        base[f"inversions_{k}"] = 0.0005
        base[f"window_ms_{k}"] = 15.0
    base |= {"inversions_ksuid": 0.03, "window_ms_ksuid": 990.0}
    base |= {"inversions_uuid4": 0.5, "window_ms_uuid4": 15_500.0}
    base.update(over)
    return base


def test_judge_holds_when_time_schemes_sort_and_ksuid_is_coarser() -> None:
    assert judge_k_ordering(values()).verdict == "holds"


def test_judge_is_nuanced_when_skew_hides_ksuids_resolution() -> None:
    v = values(window_ms_snowflake=900.0, window_ms_ulid=800.0, window_ms_uuid7=850.0)
    verdict = judge_k_ordering(v)
    assert verdict.verdict == "nuanced" and "skew" in verdict.reason


def test_judge_refutes_a_scheme_that_is_not_time_ordered() -> None:
    verdict = judge_k_ordering(values(inversions_ulid=0.3, window_ms_ulid=9_000.0))
    assert verdict.verdict == "refuted" and "ULID" in verdict.reason


def test_judge_refutes_if_random_uuids_came_out_ordered() -> None:
    verdict = judge_k_ordering(values(inversions_uuid4=0.01))
    assert verdict.verdict == "refuted" and "UUIDv4" in verdict.reason
