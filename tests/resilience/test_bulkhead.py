"""Bulkheads, the circuit breaker, backoff with jitter, and the bulkhead judge's verdicts."""

from __future__ import annotations

import asyncio
import random
import threading
import time

import pytest

from archlab.errors import ConfigError
from archlab.resilience.bulkhead import (
    Bulkhead,
    BulkheadFull,
    CircuitBreaker,
    ThreadBulkhead,
    backoff_delays,
)
from archlab.resilience.measure_bulkhead import BulkheadMeasurement, PoolResult, judge_bulkhead


def test_a_bulkhead_runs_its_limit_queues_its_queue_and_refuses_the_rest() -> None:
    async def scenario() -> tuple[int, int, int]:
        head = Bulkhead("dep", max_concurrent=2, max_queue=1, queue_timeout=5.0)
        release = asyncio.Event()
        peak = 0

        async def work() -> str:
            nonlocal peak
            peak = max(peak, head.active)
            await release.wait()
            return "done"

        tasks = [asyncio.create_task(head.call(work)) for _ in range(3)]
        await asyncio.sleep(0.01)
        with pytest.raises(BulkheadFull, match="queue full"):
            await head.call(work)
        release.set()
        results = await asyncio.gather(*tasks)
        return peak, results.count("done"), head.rejected

    assert asyncio.run(scenario()) == (2, 3, 1)


def test_a_queued_call_gives_up_after_the_queue_timeout() -> None:
    async def scenario() -> None:
        head = Bulkhead("dep", 1, max_queue=5, queue_timeout=0.05)
        blocker = asyncio.create_task(head.call(lambda: asyncio.sleep(1)))
        await asyncio.sleep(0.01)
        with pytest.raises(BulkheadFull, match="no slot within"):
            await head.call(lambda: asyncio.sleep(0))
        blocker.cancel()

    asyncio.run(scenario())


def test_a_thread_bulkhead_refuses_past_its_backlog() -> None:
    gate = threading.Event()
    head = ThreadBulkhead("blocking", threads=1, backlog=1)
    first, second = head.submit(gate.wait), head.submit(lambda: True)
    with pytest.raises(BulkheadFull):
        head.submit(lambda: True)
    gate.set()
    assert first.result(5) and second.result(5)
    head.submit(lambda: True).result(5)  # room again once they finished
    head.shutdown()


def test_the_circuit_breaker_opens_then_half_opens_then_closes() -> None:
    cb = CircuitBreaker(failure_threshold=3, reset_timeout=10.0)
    for t in range(3):
        assert cb.allow(t)
        cb.record_failure(t)
    assert cb.state == "open" and not cb.allow(5.0)
    assert cb.allow(12.5) and cb.state == "half_open"
    assert not cb.allow(12.6)  # one trial at a time
    cb.record_failure(12.7)
    assert cb.state == "open" and not cb.allow(13.0)
    assert cb.allow(23.0)
    cb.record_success(23.1)
    assert cb.state == "closed" and cb.allow(23.2)


def test_full_jitter_backoff_stays_under_its_exponential_cap() -> None:
    delays = list(backoff_delays(random.Random(1), attempts=8, base=0.1, cap=1.0))
    caps = [min(1.0, 0.1 * 2**i) for i in range(8)]
    assert all(0 <= d <= c for d, c in zip(delays, caps, strict=True))
    assert len(set(delays)) == 8  # jittered, not synchronised


@pytest.mark.parametrize(
    "make",
    [lambda: Bulkhead("x", 0), lambda: ThreadBulkhead("x", 0, 1), lambda: CircuitBreaker(0)],
)
def test_bad_settings_are_refused(make: object) -> None:
    with pytest.raises(ConfigError):
        make()  # type: ignore[operator]


def _m(shared: float, isolated: float) -> BulkheadMeasurement:
    def r(design: str, healthy: float) -> PoolResult:
        pct = {"slow": 0.0, "fast1": healthy, "fast2": healthy + 1}
        return PoolResult(design, pct, dict.fromkeys(pct, 100))

    return BulkheadMeasurement([r("shared", shared), r("bulkheads", isolated)])


@pytest.mark.parametrize(
    ("shared", "isolated", "verdict"),
    [
        (33.3, 100.0, "holds"),
        (33.3, 90.0, "nuanced"),
        (97.0, 99.0, "nuanced"),
        (40.0, 35.0, "refuted"),
    ],
)
def test_the_bulkhead_judge_reaches_each_verdict(
    shared: float, isolated: float, verdict: str
) -> None:
    assert judge_bulkhead(_m(shared, isolated)).verdict == verdict


def test_a_real_gateway_without_bulkheads_fails_its_healthy_endpoints() -> None:
    from archlab.resilience.measure_bulkhead import run_design

    clients = {"slow": 8, "fast1": 2, "fast2": 2}
    started = time.monotonic()
    shared = asyncio.run(run_design("shared", 6, clients, 1.5, slow_s=1.0, timeout=0.5))
    isolated = asyncio.run(run_design("bulkheads", 6, clients, 1.5, slow_s=1.0, timeout=0.5))
    assert time.monotonic() - started < 60
    assert min(shared.success_pct["fast1"], shared.success_pct["fast2"]) < 80
    assert min(isolated.success_pct["fast1"], isolated.success_pct["fast2"]) > 90


def _square(x: int) -> int:
    return x * x


def test_a_process_bulkhead_runs_calls_in_its_own_processes() -> None:
    import functools

    head = ThreadBulkhead("cpu", threads=2, backlog=2, processes=True)
    futures = [head.submit(functools.partial(_square, i)) for i in range(4)]
    assert [f.result(30) for f in futures] == [0, 1, 4, 9]
    head.shutdown()


def test_retry_backs_off_then_succeeds_and_an_open_breaker_stops_the_storm() -> None:
    from archlab.resilience.bulkhead import CircuitOpen, retry

    calls = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OSError("connection refused")
        return "ok"

    assert asyncio.run(retry(flaky, random.Random(0), attempts=4, base=0.001)) == "ok"
    assert len(calls) == 3

    async def down() -> str:
        raise OSError("down")

    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=60.0)
    with pytest.raises(CircuitOpen):
        asyncio.run(retry(down, random.Random(0), attempts=5, base=0.001, breaker=breaker))
    assert breaker.state == "open" and breaker.failures == 2
