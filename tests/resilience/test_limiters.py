"""The five rate-limit rules: what each admits; the Redis scripts agree with Python to the bit."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from archlab.errors import ConfigError
from archlab.resilience import algorithms
from archlab.resilience.backends import MemoryBackend, RedisBackend
from archlab.resilience.limits import ALGORITHMS, Algorithm, Limit


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_fresh_key_admits_its_capacity_then_refuses(algorithm: Algorithm) -> None:
    limit = Limit(algorithm, rate=5, period=60.0, burst=5)
    backend = MemoryBackend()
    decisions = [backend.decide("user", limit, now=1000.5) for _ in range(7)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    refused = decisions[-1]
    assert refused.retry_after > 0 and refused.headers()["Retry-After"]


def test_the_token_bucket_refills_at_its_rate() -> None:
    limit = Limit("token_bucket", rate=10, period=1.0, burst=10)
    state, _ = algorithms.decide(limit, None, 0.0, cost=10)
    assert state[0] == 0.0
    _, refused = algorithms.decide(limit, state, 0.05, cost=1)
    assert not refused.allowed and refused.retry_after == pytest.approx(0.05)
    _, admitted = algorithms.decide(limit, state, 0.1, cost=1)
    assert admitted.allowed


def test_gcra_spaces_requests_by_the_emission_interval() -> None:
    limit = Limit("gcra", rate=2, period=1.0, burst=1)  # one every 0.5 s, no burst
    state, first = algorithms.decide(limit, None, 10.0, 1)
    assert first.allowed
    state2, early = algorithms.decide(limit, state, 10.2, 1)
    assert not early.allowed and early.retry_after == pytest.approx(0.3)
    _, on_time = algorithms.decide(limit, state2, 10.5, 1)
    assert on_time.allowed


def test_a_request_bigger_than_the_limit_can_never_pass() -> None:
    for algorithm in ALGORITHMS:
        limit = Limit(algorithm, rate=3, period=1.0, burst=3)
        _, d = algorithms.decide(limit, None, 5.0, cost=4)
        assert not d.allowed and d.retry_after == -1, algorithm
        assert "Retry-After" not in d.headers()


def test_the_fixed_window_admits_a_double_burst_at_its_edge_and_the_sliding_ones_do_not() -> None:
    edge = 59.999
    admitted: dict[str, int] = {}
    for algorithm in ("fixed_window", "sliding_log", "sliding_counter"):
        limit = Limit(algorithm, rate=10, period=60.0)
        backend = MemoryBackend()
        count = sum(backend.decide("k", limit, now=edge).allowed for _ in range(10))
        count += sum(backend.decide("k", limit, now=edge + 0.002).allowed for _ in range(10))
        admitted[algorithm] = count
    assert admitted == {"fixed_window": 20, "sliding_log": 10, "sliding_counter": 10}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": -3}, "rate"),
        ({"period": 0.0}, "period"),
        ({"period": float("inf")}, "period"),
        ({"burst": 0}, "burst"),
        ({"algorithm": "leaky"}, "algorithm"),
    ],
)
def test_bad_configuration_is_a_one_line_error_naming_the_field(
    kwargs: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {"algorithm": "token_bucket", "rate": 5, "period": 1.0, "burst": 5}
    args.update(kwargs)
    with pytest.raises(ConfigError, match=field) as info:
        Limit(**args)
    assert "\n" not in str(info.value)


def _sequence(seed: int, n: int) -> list[tuple[float, int]]:
    rng = random.Random(seed)
    now, out = 1_700_000_000.0, []
    for _ in range(n):
        now += rng.choice([0.0, 0.001, 0.013, 0.2, 0.9, 3.7])
        out.append((now, rng.choice([1, 1, 1, 2, 5])))
    return out


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_redis_scripts_decide_exactly_as_the_python_rules(
    algorithm: Algorithm, seed: int, redis_client: Any
) -> None:
    limit = Limit(algorithm, rate=7, period=2.5, burst=4)
    memory, remote = MemoryBackend(), RedisBackend(redis_client)
    for now, cost in _sequence(seed, 120):
        assert remote.decide("u", limit, cost, now=now) == memory.decide("u", limit, cost, now=now)


@settings(max_examples=40, deadline=None)
@given(
    rate=st.integers(1, 20),
    burst=st.integers(1, 20),
    steps=st.lists(st.tuples(st.floats(0, 2, allow_nan=False), st.integers(1, 3)), max_size=40),
)
def test_no_rule_admits_more_than_its_capacity_plus_what_refilled(
    rate: int, burst: int, steps: list[tuple[float, int]]
) -> None:
    for algorithm in ALGORITHMS:
        limit = Limit(algorithm, rate=rate, period=1.0, burst=burst)
        state, now, admitted = None, 0.0, 0
        for gap, cost in steps:
            now += gap
            state, d = algorithms.decide(limit, state, now, cost)
            admitted += cost if d.allowed else 0
        # Fixed windows may admit `rate` in each window they touch; the others refill smoothly.
        windows = int(now // 1.0) + 1
        bound = rate * windows if algorithm == "fixed_window" else limit.capacity + rate * now
        if algorithm in ("sliding_log", "sliding_counter"):
            bound = rate * (now + 1.0)
        assert admitted <= bound + 1e-9, (algorithm, admitted, bound)
