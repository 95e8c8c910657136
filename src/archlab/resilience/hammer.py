"""Many processes, each with many threads, firing requests at one rate-limited key (9.3).

This is how the atomicity of a limiter is tested and measured: every process opens its own
Redis connections, all start together at a barrier, and each counts the requests the limiter
admitted. The total is compared with the most the limit can allow over the elapsed time
(:func:`allowed_bound`); an atomic limiter never exceeds it, the naive read-then-write one
does as soon as two clients interleave.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from archlab.resilience.limits import Limit

Kind = Literal["atomic", "naive"]
Transport = Literal["redis", "memory"]


@dataclass(frozen=True)
class HammerResult:
    attempted: int
    admitted: int
    seconds: float
    allowed: int

    @property
    def over_admitted(self) -> int:
        return max(0, self.admitted - self.allowed)


def allowed_bound(limit: Limit, seconds: float) -> int:
    """The most requests of cost 1 that ``limit`` may admit within ``seconds``."""
    periods = seconds / limit.period
    if limit.algorithm in ("token_bucket", "gcra"):
        return limit.burst + math.floor(limit.rate * periods)
    if limit.algorithm == "fixed_window":
        return limit.rate * (math.floor(periods) + 2)
    return math.floor(limit.rate * (periods + 1))


def _redis_decider(port: int, kind: Kind, limit: Limit, key: str, threads: int) -> Any:
    import redis

    from archlab.resilience.backends import NaiveRedisBackend, RedisBackend

    client = redis.Redis(port=port, max_connections=threads + 1)
    backend = RedisBackend(client) if kind == "atomic" else NaiveRedisBackend(client)
    return lambda: backend.decide(key, limit).allowed


def _memory_decider(address: Any, authkey: bytes, kind: Kind, limit: Limit, key: str) -> Any:
    from archlab.resilience import algorithms, memserver

    store = memserver.connect(address, authkey)
    if kind == "atomic":
        args = (key, limit.algorithm, limit.rate, limit.period, limit.burst, 1)
        return lambda: store.decide(*args)

    def naive() -> bool:
        raw = store.get(key)
        state = tuple(float(x) for x in raw.split(",")) if raw else None
        new_state, decision = algorithms.decide(limit, state, time.time(), 1)
        store.set(key, ",".join(repr(x) for x in new_state))
        return decision.allowed

    return naive


def _worker(
    where: tuple[Transport, Any, bytes],
    kind: Kind,
    limit: Limit,
    key: str,
    threads: int,
    requests: int,
    barrier: Any,
    out: Any,
) -> None:
    transport, address, authkey = where
    if transport == "redis":
        decide = _redis_decider(int(address), kind, limit, key, threads)
    else:
        decide = _memory_decider(address, authkey, kind, limit, key)
    counts = [0] * threads

    def fire(i: int) -> None:
        for _ in range(requests):
            if decide():
                counts[i] += 1

    pool = [threading.Thread(target=fire, args=(i,)) for i in range(threads)]
    barrier.wait()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put(sum(counts))


def hammer(
    where: int | tuple[Transport, Any, bytes],
    kind: Kind,
    limit: Limit,
    *,
    key: str = "hot-user",
    processes: int = 4,
    threads: int = 4,
    requests: int = 50,
) -> HammerResult:
    """Fire ``processes × threads × requests`` decisions at ``key``; count what was admitted.

    ``where`` is a Redis port, or ``("memory", address, authkey)`` of a
    :class:`~archlab.resilience.memserver.StoreManager`.
    """
    target = ("redis", where, b"") if isinstance(where, int) else where
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(processes + 1)
    out = ctx.Queue()
    procs = [
        ctx.Process(
            target=_worker, args=(target, kind, limit, key, threads, requests, barrier, out)
        )
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    barrier.wait()
    started = time.monotonic()
    admitted = sum(out.get(timeout=120) for _ in procs)
    seconds = time.monotonic() - started
    for p in procs:
        p.join(timeout=30)
        if p.exitcode != 0:
            raise RuntimeError(f"a load process exited with {p.exitcode}")
    attempted = processes * threads * requests
    return HammerResult(attempted, admitted, seconds, allowed_bound(limit, seconds))
