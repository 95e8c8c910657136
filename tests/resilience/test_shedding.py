"""Stripe's concurrency limiter and load shedders, and the load-shedding judge's verdicts."""

from __future__ import annotations

import random

import pytest

from archlab.errors import ConfigError
from archlab.resilience.measure_shedding import (
    ModeResult,
    SheddingMeasurement,
    judge_shedding,
    make_arrivals,
    simulate,
)
from archlab.resilience.shedding import (
    ConcurrencyLimiter,
    FleetUsageShedder,
    WorkerUtilizationShedder,
)


def test_the_concurrency_limiter_caps_in_flight_requests_and_frees_on_release() -> None:
    limiter = ConcurrencyLimiter(limit=2, stale_after=30.0)
    assert limiter.acquire("u", "a", 0.0) and limiter.acquire("u", "b", 0.0)
    assert not limiter.acquire("u", "c", 1.0)
    assert limiter.acquire("v", "x", 1.0)  # per user
    limiter.release("u", "a")
    assert limiter.acquire("u", "c", 1.0)


def test_a_crashed_servers_slots_expire_after_stale_after() -> None:
    limiter = ConcurrencyLimiter(limit=1, stale_after=30.0)
    assert limiter.acquire("u", "lost", 0.0)  # the server handling it crashed: never released
    assert not limiter.acquire("u", "next", 29.9)
    assert limiter.acquire("u", "next", 30.0)


def test_the_fleet_shedder_reserves_capacity_for_critical_requests() -> None:
    shedder = FleetUsageShedder(capacity=10, reserved=0.2)
    assert shedder.admits("get", 7) and not shedder.admits("get", 8)
    assert shedder.admits("critical", 9) and not shedder.admits("critical", 10)


def test_the_utilization_shedder_sheds_lowest_first_one_class_per_hold() -> None:
    shedder = WorkerUtilizationShedder(high=0.9, low=0.6, hold=1.0)
    for t in range(0, 40):
        shedder.observe(0.95, t * 0.1)
    assert shedder.level == 3  # test, GET, POST shed; never critical
    assert shedder.admits("critical") and not shedder.admits("post")
    shedder.observe(0.75, 4.0)  # between the watermarks: nothing changes
    shedder.observe(0.75, 9.0)
    assert shedder.level == 3
    for t in range(100, 115):
        shedder.observe(0.3, t * 0.1)
    assert shedder.level == 2 and shedder.admits("post") and not shedder.admits("get")


def test_without_hysteresis_the_shedder_flaps_with_every_sample() -> None:
    noisy = [0.85, 0.75] * 50
    calm, twitchy = WorkerUtilizationShedder(0.9, 0.6, 1.0), WorkerUtilizationShedder(0.8, 0.8, 0.0)
    for i, u in enumerate(noisy):
        calm.observe(u, i * 0.1)
        twitchy.observe(u, i * 0.1)
    assert calm.changes == 0 and twitchy.changes > 50


@pytest.mark.parametrize(
    "make",
    [
        lambda: ConcurrencyLimiter(0, 1.0),
        lambda: FleetUsageShedder(10, 1.0),
        lambda: WorkerUtilizationShedder(high=0.5, low=0.7),
    ],
)
def test_bad_shedder_settings_are_refused(make: object) -> None:
    with pytest.raises(ConfigError):
        make()  # type: ignore[operator]


def test_overload_starves_critical_traffic_without_shedding_and_not_with_it() -> None:
    arrivals = make_arrivals(random.Random(3), rate=400.0, seconds=6.0)  # 2x of 200/s
    none = simulate("none", arrivals, 10, 0.05, 1.0, seed=3)
    fleet = simulate("fleet", arrivals, 10, 0.05, 1.0, seed=3)
    assert none.served_pct["critical"] < 80 and fleet.served_pct["critical"] > 99


def _measured(none: float, fleet: float, util: float) -> SheddingMeasurement:
    def r(mode: str, critical: float, changes: int = 0) -> ModeResult:
        return ModeResult(mode, {"critical": critical, "post": 50.0, "get": 40.0, "test": 5.0},
                          100, 10, 300.0, changes)  # fmt: skip

    return SheddingMeasurement(2.0, [r("none", none), r("fleet", fleet), r("utilization", util, 12),
                                     r("utilization_no_hysteresis", 100.0, 150)])  # fmt: skip


@pytest.mark.parametrize(
    ("values", "verdict"),
    [
        ((50.0, 100.0, 99.5), "holds"),
        ((50.0, 100.0, 98.4), "nuanced"),  # the quick profile's measurement
        ((95.0, 100.0, 100.0), "nuanced"),  # not congested enough to test the claim
        ((50.0, 49.0, 99.5), "refuted"),
    ],
)
def test_the_shedding_judge_reaches_each_verdict(
    values: tuple[float, float, float], verdict: str
) -> None:
    assert judge_shedding(_measured(*values)).verdict == verdict


def test_the_redis_concurrency_limiter_is_shared_and_expires_a_crashed_servers_entries(
    redis_client: object,
) -> None:
    from archlab.resilience.backends import RedisConcurrencyLimiter

    a = RedisConcurrencyLimiter(redis_client, limit=2, stale_after=30.0)  # type: ignore[arg-type]
    b = RedisConcurrencyLimiter(redis_client, limit=2, stale_after=30.0)  # type: ignore[arg-type]
    assert a.acquire("u", "r1", now=100.0) and b.acquire("u", "r2", now=100.0)
    assert not a.acquire("u", "r3", now=101.0)  # two servers, one limit
    b.release("u", "r2")
    assert a.acquire("u", "r3", now=101.0)
    # r1's server crashed without releasing: 30 s later its slot is free again
    assert not b.acquire("u", "r4", now=129.0)
    assert b.acquire("u", "r4", now=130.5)
