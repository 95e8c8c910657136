"""``archlab bench limits``: rate-limit decisions per second on one local redis-server.

archlab's Redis limiters against the `limits` library's strategies on the same server, with
the parameters of `limits`' own benchmarks: 100 users, a limit of 500 a minute, every user's
window pre-seeded half full. Comparable pairs: fixed window with fixed window, archlab's
sliding-window log with `limits`' moving window (both keep every admitted request's time),
sliding-window counter with sliding-window counter. The token bucket and GCRA have no peer
there and are shown for reference. One client thread, one connection each, rounds alternated.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from archlab.lab import BenchContext, BenchReport, Column, Ratio, benchmark
from archlab.lab.bench import interleaved, median, ops_per_sec, peer_available
from archlab.resilience.limits import Algorithm, Limit
from archlab.resilience.redisproc import RedisServer, redis_available

USERS = 100
LIMIT = 500
PERIOD = 60.0
#: The issue's goal: at least 1.5x the `limits` library's decisions per second.
GOAL = 1.5
#: Federation's goal: at least 10x fewer Redis calls than one per decision.
FEDERATION_GOAL = 10.0
#: (decisions per trial, rounds) for --quick and the full run.
QUICK = (4_000, 3)
FULL = (20_000, 5)

PAIRS: list[tuple[Algorithm, str, str]] = [
    ("fixed_window", "FixedWindowRateLimiter", "fixed window"),
    ("sliding_log", "MovingWindowRateLimiter", "moving window / sliding log"),
    ("sliding_counter", "SlidingWindowCounterRateLimiter", "sliding window counter"),
]


def _archlab_trial(client: Any, algorithm: Algorithm, calls: int) -> Callable[[], float]:
    from archlab.resilience.backends import RedisBackend

    backend = RedisBackend(client, prefix=f"archlab:bench:{algorithm}:")
    limit = Limit(algorithm, rate=LIMIT, period=PERIOD)
    users = [f"user{i}" for i in range(USERS)]
    for user in users:  # pre-seed every window half full
        for _ in range(LIMIT // 2):
            backend.decide(user, limit)
    cycle = itertools.cycle(users)

    def run() -> None:
        for _ in range(calls):
            backend.decide(next(cycle), limit)

    return lambda: ops_per_sec(calls, run)


def _limits_trial(port: int, strategy: str, calls: int) -> Callable[[], float]:
    import limits
    from limits import storage, strategies

    store = storage.storage_from_string(f"redis://127.0.0.1:{port}")
    limiter = getattr(strategies, strategy)(store)
    item = limits.parse(f"{LIMIT}/minute")
    users = [f"user{i}" for i in range(USERS)]
    for user in users:
        for _ in range(LIMIT // 2):
            limiter.hit(item, strategy, user)
    cycle = itertools.cycle(users)

    def run() -> None:
        for _ in range(calls):
            limiter.hit(item, strategy, next(cycle))

    return lambda: ops_per_sec(calls, run)


def _federation(client: Any, calls: int, rounds: int, ctx: BenchContext) -> Ratio:
    """Redis calls saved by leases of 50 tokens (one sync a second) on the real server.

    One client thread takes ``calls`` decisions from a bucket refilled fast enough that the
    limit never bites, once with one ``EVALSHA`` per decision and once through a lease client;
    the ratio is calls without leases / calls with them (higher is better).
    """
    from archlab.resilience.backends import RedisBackend
    from archlab.resilience.federation import LeaseClient

    backend = RedisBackend(client, prefix="archlab:bench:lease:")
    bucket = Limit("token_bucket", rate=10**6, period=1.0, burst=10**6)
    savings = []
    for r in range(rounds):
        lease = LeaseClient(backend, f"fleet{r}", bucket, lease_size=50, sync_period=1.0)
        for i in range(calls):
            lease.decide(now=i * 1e-4)
        savings.append(calls / max(1, lease.stats.store_calls))
    ones = [1.0] * rounds
    return Ratio.of_rounds(
        "federation: Redis calls, one per decision / with leases of 50",
        savings,
        ones,
        goal=FEDERATION_GOAL,
    )


@benchmark(
    name="limits",
    title="Rate-limit decisions on Redis (codex 9.3)",
    description="""Decisions per second on one local redis-server: archlab's atomic Lua
    limiters vs the `limits` library's strategies (fixed window, moving window, sliding-window
    counter), 100 users, 500 a minute, windows pre-seeded half full, one client thread each,
    rounds alternated, medians with the spread.""",
)
def bench_limits(ctx: BenchContext) -> BenchReport:
    calls, rounds = QUICK if ctx.quick else FULL
    report = BenchReport(
        columns=[
            Column("rule"),
            Column("system"),
            Column("decisions/s", "median"),
            Column("min", "decisions/s"),
            Column("max", "decisions/s"),
        ],
        rows=[],
    )
    if not redis_available():
        report.missing_peers.append("redis-server (apt-get install redis-server)")
        return report
    import redis

    have_peer = peer_available("limits")
    if not have_peer:
        report.missing_peers.append("limits (pip install -e '.[peers]')")
    with RedisServer() as server:
        client = redis.Redis(port=server.port)
        for algorithm, strategy, label in PAIRS:
            systems = {"archlab": _archlab_trial(client, algorithm, calls)}
            if have_peer:
                systems["limits"] = _limits_trial(server.port, strategy, calls)
            samples = interleaved(systems, rounds, ctx.progress, label)
            for name, values in samples.items():
                report.rows.append(
                    {
                        "rule": label,
                        "system": name,
                        "decisions/s": median(values),
                        "min": min(values),
                        "max": max(values),
                    }
                )
            report.ratios.append(
                Ratio.of_rounds(
                    f"{label}: archlab / limits decisions/s",
                    samples["archlab"],
                    samples.get("limits"),
                    goal=GOAL,
                )
            )
        for algorithm in ("token_bucket", "gcra"):
            limit_kind: Algorithm = algorithm
            values = interleaved(
                {"archlab": _archlab_trial(client, limit_kind, calls)},
                rounds,
                ctx.progress,
                algorithm,
            )["archlab"]
            report.rows.append(
                {
                    "rule": algorithm.replace("_", " "),
                    "system": "archlab (no peer)",
                    "decisions/s": median(values),
                    "min": min(values),
                    "max": max(values),
                }
            )
        report.ratios.append(_federation(client, calls, rounds, ctx))
        client.close()
    report.notes.append(
        "Both sides make one round trip to Redis a decision (a Lua script each); the ratio "
        "measures the client-side cost of building and parsing that call."
    )
    return report
