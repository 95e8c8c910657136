"""Federated leases: the lease script agrees with Python, the fleet stays within its bound."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from archlab.errors import ConfigError
from archlab.resilience.backends import MemoryBackend, RedisBackend
from archlab.resilience.federation import LeaseClient
from archlab.resilience.limits import Limit
from archlab.resilience.measure_federation import (
    FederationMeasurement,
    FederationRun,
    arrivals,
    judge_federation,
    run_leases,
    run_strict,
    worst_window,
)

BUCKET = Limit("token_bucket", rate=100, period=1.0, burst=100)


def test_a_lease_takes_what_the_bucket_has_and_a_give_back_refills_it() -> None:
    store = MemoryBackend()
    assert store.lease("k", BUCKET, want=60, now=0.0) == (60, 0.0)
    granted, retry = store.lease("k", BUCKET, want=60, now=0.0)
    assert granted == 40 and retry == pytest.approx(0.6)  # 60 more tokens take 0.6 s
    assert store.lease("k", BUCKET, want=0, give_back=30, now=0.0)[0] == 0
    assert store.lease("k", BUCKET, want=100, now=0.0)[0] == 30


def test_the_lease_script_decides_exactly_as_python(redis_client: Any) -> None:
    memory, remote = MemoryBackend(), RedisBackend(redis_client)
    rng, now = random.Random(5), 1_700_000_000.0
    for _ in range(200):
        now += rng.choice([0.0, 0.01, 0.3, 1.1])
        want, back = rng.choice([0, 1, 10, 50]), rng.choice([0, 0, 3, 20])
        expected = memory.lease("f", BUCKET, want, back, now=now)
        assert remote.lease("f", BUCKET, want, back, now=now) == expected


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), lease=st.integers(1, 40), sync=st.sampled_from([0.1, 1.0, 3.0]))
def test_a_fleet_never_admits_more_than_the_limit_plus_the_tokens_out_on_lease(
    seed: int, lease: int, sync: float
) -> None:
    clients = 6
    events = arrivals(random.Random(seed), clients, 6.0, on_rate=150.0, duty=0.2)
    admitted, _ = run_leases(BUCKET, events, clients, lease, sync)
    bound = BUCKET.burst + BUCKET.rate * 1.0 + clients * lease
    assert worst_window(admitted, 1.0) <= bound
    assert len(admitted) <= BUCKET.burst + BUCKET.rate * 6.0 + clients * lease


def test_leases_of_one_decide_like_the_strict_limiter() -> None:
    events = arrivals(random.Random(1), 4, 5.0, on_rate=120.0, duty=0.3)
    strict = run_strict(BUCKET, events)
    leased, calls = run_leases(BUCKET, events, 4, 1, 1.0)
    assert leased == strict and calls <= len(events)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"lease_size": 0}, "lease size"), ({"sync_period": 0.0}, "sync period")],
)
def test_bad_lease_settings_are_refused(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"lease_size": 10, "sync_period": 1.0}
    args.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        LeaseClient(MemoryBackend(), "k", BUCKET, **args)
    with pytest.raises(ConfigError, match="token bucket"):
        LeaseClient(MemoryBackend(), "k", Limit("gcra", 1, 1.0), 10, 1.0)


def _run(lease: int, saving: float, over: float, under: float = 2.0) -> FederationRun:
    return FederationRun(1.5, lease, 1.0, 1000, 900, int(1000 / saving), saving, over, under)


@pytest.mark.parametrize(
    ("runs", "verdict"),
    [
        ([_run(1, 1.0, 0.0), _run(50, 14.0, 0.4)], "holds"),
        ([_run(1, 1.0, 0.0), _run(50, 14.0, 6.0)], "nuanced"),
        ([_run(1, 1.0, 0.0), _run(50, 6.0, 0.0)], "nuanced"),
        ([_run(1, 1.0, 0.0), _run(50, 1.5, 0.0)], "refuted"),
    ],
)
def test_the_federation_judge_reaches_each_verdict(runs: list[FederationRun], verdict: str) -> None:
    assert judge_federation(FederationMeasurement(8, runs)).verdict == verdict


def test_a_configuration_is_judged_at_its_worst_workload() -> None:
    calm = FederationRun(0.6, 50, 1.0, 1000, 600, 50, 20.0, 0.0, 1.0)
    busy = FederationRun(1.5, 50, 1.0, 1000, 900, 50, 12.0, 3.0, 5.0)
    (worst,) = FederationMeasurement(8, [calm, busy]).configurations()
    assert (worst.saving, worst.over_admission_pct, worst.under_admission_pct) == (12.0, 3.0, 5.0)
    assert judge_federation(FederationMeasurement(8, [calm, busy])).verdict == "nuanced"
