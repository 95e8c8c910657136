"""``archlab limits``: the demo API behind Stripe-style limiters, and a load generator for it."""

from __future__ import annotations

import asyncio
import json
import logging

import click

from archlab.errors import ConfigError
from archlab.resilience.limits import ALGORITHMS, Limit


@click.group("limits")
def limits() -> None:
    """Rate limiting and load shedding in front of a real HTTP API (codex 9.3).

    \b
    Examples:
      archlab limits serve --port 8000 --rate 10 --burst 20
      archlab limits serve --backend redis --redis-url redis://127.0.0.1:6379/0
      archlab limits load http://127.0.0.1:8000 --users 20 --rps 300 --seconds 10
    """


@limits.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on (0: any free port, printed on start).",
)
@click.option(
    "--backend",
    type=click.Choice(["memory", "redis"]),
    default="memory",
    show_default=True,
    help="Where the limiter keeps its state.",
)
@click.option(
    "--redis-url",
    default="redis://127.0.0.1:6379/0",
    show_default=True,
    help="The Redis server for --backend redis.",
)
@click.option(
    "--algorithm",
    type=click.Choice(ALGORITHMS),
    default="token_bucket",
    show_default=True,
    help="The request-rate rule.",
)
@click.option(
    "--rate", type=int, default=10, show_default=True, help="Requests per --period per user."
)
@click.option("--period", type=float, default=1.0, show_default=True, help="Seconds.")
@click.option(
    "--burst", type=int, default=20, show_default=True, help="Bucket capacity (token bucket, GCRA)."
)
@click.option(
    "--concurrency",
    type=click.IntRange(0),
    default=20,
    show_default=True,
    help="Requests one user may have in flight (0: no limit).",
)
@click.option(
    "--capacity",
    type=click.IntRange(1),
    default=200,
    show_default=True,
    help="In-flight requests the server takes before shedding (fleet-usage shedder).",
)
@click.option(
    "--reserved",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.2,
    show_default=True,
    help="Share of --capacity kept for critical requests.",
)
@click.option(
    "--dark-launch",
    is_flag=True,
    help="Refuse nothing: log and count what would have been refused.",
)
@click.option(
    "--fail-closed",
    is_flag=True,
    help="Refuse requests when the limiter's store fails (default: let them through).",
)
def serve(
    host: str,
    port: int,
    backend: str,
    redis_url: str,
    algorithm: str,
    rate: int,
    period: float,
    burst: int,
    concurrency: int,
    capacity: int,
    reserved: float,
    dark_launch: bool,
    fail_closed: bool,
) -> None:
    """Serve the demo payments API behind the rate-limit middleware.

    Requests name their user with X-User (else Authorization, else the client address) and
    may set X-Priority (critical, post, get, test) or X-Test. Over the rate: 429 with
    Retry-After and RateLimit-* headers; shed under load: 503.
    """
    import uvicorn

    from archlab.resilience.asgi import RateLimitMiddleware
    from archlab.resilience.backends import AsyncRedisBackend, MemoryBackend
    from archlab.resilience.demo import app
    from archlab.resilience.shedding import ConcurrencyLimiter, FleetUsageShedder

    limit = Limit(algorithm, rate=rate, period=period, burst=burst)  # type: ignore[arg-type]
    store: object
    if backend == "redis":
        import redis.asyncio

        store = AsyncRedisBackend(redis.asyncio.Redis.from_url(redis_url))
    else:
        store = MemoryBackend()
    wrapped = RateLimitMiddleware(
        app,
        backend=store,
        limit=limit,
        concurrency=ConcurrencyLimiter(concurrency, stale_after=60.0) if concurrency else None,
        fleet=FleetUsageShedder(capacity, reserved),
        fail_open=not fail_closed,
        dark_launch=dark_launch,
    )
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    click.echo(
        f"archlab limits: {algorithm} {rate}/{period:g}s burst {burst} on {backend}", err=True
    )
    uvicorn.run(wrapped, host=host, port=port, log_level="warning", lifespan="on")


@limits.command("load")
@click.argument("url")
@click.option(
    "--users",
    type=click.IntRange(1, 10_000),
    default=20,
    show_default=True,
    help="Concurrent users, one keep-alive connection each; a tenth burst at 5x.",
)
@click.option(
    "--rps",
    type=click.FloatRange(0.1),
    default=200.0,
    show_default=True,
    help="Target requests per second over all users.",
)
@click.option("--seconds", type=click.FloatRange(0.1, 3600), default=10.0, show_default=True)
@click.option(
    "--mix",
    default="critical=10,post=20,get=50,test=20",
    show_default=True,
    help="Traffic classes and their weights.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def load(
    url: str, users: int, rps: float, seconds: float, mix: str, seed: int, as_json: bool
) -> None:
    """Replay a traffic mix against URL (http://HOST:PORT) and count the answers by class."""
    from urllib.parse import urlsplit

    from archlab.resilience.loadgen import parse_mix, run_load

    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ConfigError(f"URL {url!r}: expected http://HOST:PORT")
    result = asyncio.run(
        run_load(
            parts.hostname,
            parts.port or 80,
            users=users,
            rate=rps,
            seconds=seconds,
            mix=parse_mix(mix),
            seed=seed,
        )
    )
    if result.total() == 0:
        raise ConfigError(f"{url}: no request was answered ({dict(result.errors) or 'no reply'})")
    rows = sorted(result.counts.items())
    lat = sorted(result.latencies)
    p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "requests": result.total(),
                    "seconds": round(result.seconds, 3),
                    "by_class_and_status": {f"{k}:{s}": n for (k, s), n in rows},
                    "retry_after_on_429": result.retry_after_on_429,
                    "errors": dict(result.errors),
                    "p50_ms": 1000 * p50,
                    "p99_ms": 1000 * p99,
                }
            )
        )
        return
    click.echo(
        f"{result.total()} requests in {result.seconds:.1f} s, "
        f"p50 {1000 * p50:.1f} ms, p99 {1000 * p99:.1f} ms"
    )
    for (klass, status), n in rows:
        click.echo(f"  {klass:>8}  {status}  {n}")
    if result.retry_after_on_429:
        click.echo(f"  429s with Retry-After: {result.retry_after_on_429}")
    if result.errors:
        click.echo(f"  errors: {dict(result.errors)}")
