"""Bulkheads, a circuit breaker and retries with backoff and jitter (codex 9.2).

- :class:`Bulkhead` bounds the calls to one dependency: at most ``max_concurrent`` at once, at
  most ``max_queue`` waiting (each for at most ``queue_timeout``), everything else refused at
  once with :class:`BulkheadFull`. One bulkhead per dependency means a slow dependency can
  only exhaust its own slots; one shared bulkhead for all is the pool the pattern replaces.
- :class:`ThreadBulkhead` is the same for blocking calls: a thread pool of its own per
  dependency with a bounded backlog.
- :class:`CircuitBreaker` is a sans-IO state machine (closed, open, half-open) fed the time:
  after ``failure_threshold`` consecutive failures it opens and refuses calls for
  ``reset_timeout`` seconds, then lets ``half_open_calls`` trial calls through.
- :func:`backoff_delays` gives "full jitter" exponential backoff delays (a uniform draw below
  ``min(cap, base · 2^attempt)``), so retrying clients do not synchronise.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Literal, TypeVar

from archlab.errors import ConfigError
from archlab.randomness import RandomSource

T = TypeVar("T")


class BulkheadFull(Exception):
    """Raised instead of queueing a call the bulkhead has no room or time for."""


class Bulkhead:
    """An asyncio concurrency pool for one dependency, with a bounded, timed queue."""

    def __init__(
        self, name: str, max_concurrent: int, max_queue: int = 0, queue_timeout: float = 0.0
    ) -> None:
        if max_concurrent < 1 or max_queue < 0 or queue_timeout < 0:
            raise ConfigError(
                f"bulkhead {name}: need max_concurrent ≥ 1, max_queue ≥ 0, queue_timeout ≥ 0"
            )
        self.name = name
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self.queue_timeout = queue_timeout
        self.active = 0
        self.waiting = 0
        self.rejected = 0
        self._slots = asyncio.Semaphore(max_concurrent)

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        if self.active >= self.max_concurrent and self.waiting >= self.max_queue:
            self.rejected += 1
            raise BulkheadFull(f"bulkhead {self.name}: {self.active} running, queue full")
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.queue_timeout or None)
        except TimeoutError:
            self.rejected += 1
            raise BulkheadFull(
                f"bulkhead {self.name}: no slot within {self.queue_timeout} s"
            ) from None
        finally:
            self.waiting -= 1
        self.active += 1
        try:
            return await fn()
        finally:
            self.active -= 1
            self._slots.release()


class ThreadBulkhead:
    """A pool of its own for one blocking dependency, refusing past its backlog.

    Threads by default; ``processes=True`` gives the dependency its own worker processes
    instead (for CPU-bound calls, or calls that must not share the interpreter), and then
    ``fn`` must be picklable.
    """

    def __init__(self, name: str, threads: int, backlog: int, processes: bool = False) -> None:
        if threads < 1 or backlog < 0:
            raise ConfigError(f"bulkhead {name}: need threads ≥ 1 and backlog ≥ 0")
        self.name = name
        self._pool: concurrent.futures.Executor = (
            concurrent.futures.ProcessPoolExecutor(threads)
            if processes
            else concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix=name)
        )
        self._room = threading.BoundedSemaphore(threads + backlog)

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        if not self._room.acquire(blocking=False):
            raise BulkheadFull(f"bulkhead {self.name}: pool and backlog are full")
        future = self._pool.submit(fn)
        future.add_done_callback(lambda _: self._room.release())
        return future

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


State = Literal["closed", "open", "half_open"]


@dataclass
class CircuitBreaker:
    """Closed → open after consecutive failures; open → half-open after a timeout."""

    failure_threshold: int = 5
    reset_timeout: float = 5.0
    half_open_calls: int = 1
    state: State = "closed"
    failures: int = 0
    opened_at: float = 0.0
    trials: int = 0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.reset_timeout <= 0 or self.half_open_calls < 1:
            raise ConfigError("circuit breaker: need threshold ≥ 1, reset timeout > 0, trials ≥ 1")

    def allow(self, now: float) -> bool:
        if self.state == "open" and now - self.opened_at >= self.reset_timeout:
            self.state, self.trials = "half_open", 0
        if self.state == "closed":
            return True
        if self.state == "half_open" and self.trials < self.half_open_calls:
            self.trials += 1
            return True
        return False

    def record_success(self, now: float) -> None:
        self.state, self.failures = "closed", 0

    def record_failure(self, now: float) -> None:
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.failure_threshold:
            self.state, self.opened_at = "open", now


async def retry(
    fn: Callable[[], Awaitable[T]],
    rng: RandomSource,
    attempts: int = 4,
    base: float = 0.05,
    cap: float = 2.0,
    retry_on: tuple[type[BaseException], ...] = (OSError, TimeoutError),
    breaker: CircuitBreaker | None = None,
    clock: Callable[[], float] | None = None,
) -> T:
    """Call ``fn``, retrying ``retry_on`` failures after full-jitter backoff delays.

    With a ``breaker``, a call it refuses raises :class:`CircuitOpen` at once (no retry storm
    against a dependency that is down), and each outcome is recorded on it.
    """
    now = clock or asyncio.get_running_loop().time
    delays = list(backoff_delays(rng, attempts - 1, base, cap))
    for attempt in range(attempts):
        if breaker is not None and not breaker.allow(now()):
            raise CircuitOpen("circuit open: the dependency is failing, not calling it")
        try:
            result = await fn()
        except retry_on:
            if breaker is not None:
                breaker.record_failure(now())
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(delays[attempt])
        else:
            if breaker is not None:
                breaker.record_success(now())
            return result
    raise AssertionError("unreachable")


class CircuitOpen(Exception):
    """A call refused by an open circuit breaker."""


def backoff_delays(
    rng: RandomSource, attempts: int, base: float = 0.05, cap: float = 2.0
) -> Iterator[float]:
    """Full-jitter exponential backoff: attempt i waits uniform(0, min(cap, base · 2^i))."""
    for attempt in range(attempts):
        yield rng.uniform(0.0, min(cap, base * 2**attempt))
