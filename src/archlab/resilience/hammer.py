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


def _worker(
    port: int,
    kind: Kind,
    limit: Limit,
    key: str,
    threads: int,
    requests: int,
    barrier: Any,
    out: Any,
) -> None:
    import redis

    from archlab.resilience.backends import NaiveRedisBackend, RedisBackend

    client = redis.Redis(port=port, max_connections=threads + 1)
    backend = RedisBackend(client) if kind == "atomic" else NaiveRedisBackend(client)
    counts = [0] * threads

    def fire(i: int) -> None:
        for _ in range(requests):
            if backend.decide(key, limit).allowed:
                counts[i] += 1

    pool = [threading.Thread(target=fire, args=(i,)) for i in range(threads)]
    barrier.wait()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put(sum(counts))
    client.close()


def hammer(
    port: int,
    kind: Kind,
    limit: Limit,
    *,
    key: str = "hot-user",
    processes: int = 4,
    threads: int = 4,
    requests: int = 50,
) -> HammerResult:
    """Fire ``processes × threads × requests`` decisions at ``key``; count what was admitted."""
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(processes + 1)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(port, kind, limit, key, threads, requests, barrier, out))
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
