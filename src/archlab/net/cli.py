"""``archlab lb``: the L4 and L7 load balancers, an origin to put behind them, and load."""

from __future__ import annotations

import json
import logging

import click

from archlab.net.backends import parse_backends
from archlab.net.policies import POLICIES
from archlab.net.routing import parse_route


@click.group("lb")
def lb() -> None:
    """Layer 4 and layer 7 load balancers on real sockets (codex 3.1).

    \b
    Examples:
      archlab lb origin --name a --port 9001 &  archlab lb origin --name b --port 9002 &
      archlab lb serve --mode l4 --backends 127.0.0.1:9001,127.0.0.1:9002 --port 8080
      archlab lb serve --mode l7 --backends 127.0.0.1:9001 --route /api=127.0.0.1:9002
      archlab lb serve --mode l7 --backends 127.0.0.1:9001,127.0.0.1:9002 --policy maglev
      archlab lb load http://127.0.0.1:8080/ --concurrency 16 --seconds 5
      archlab lb load http://127.0.0.1:8080/ --rate 2000 --seconds 5 --no-keep-alive
    """


@lb.command("serve")
@click.option("--mode", type=click.Choice(["l4", "l7"]), required=True, help="Balancer layer.")
@click.option("--backends", required=True, help="HOST:PORT,HOST:PORT (the default pool).")
@click.option(
    "--policy",
    type=click.Choice(POLICIES),
    default="round-robin",
    show_default=True,
    help="How a backend is chosen within a pool.",
)
@click.option(
    "--route",
    "routes",
    multiple=True,
    metavar="MATCH=BACKENDS",
    help="L7 only: /PREFIX, host:NAME or header:NAME:VALUE to its own backends (repeatable).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on (0: any free port, printed on start).",
)
@click.option(
    "--hash-on",
    default="client",
    show_default=True,
    help="L7 key for the hash policies: client, path or header:NAME.",
)
@click.option(
    "--check-interval",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="L7 seconds between active health checks (GET /healthz); 0: off.",
)
@click.option(
    "--no-startup-check",
    is_flag=True,
    help="Start even if a backend does not accept connections yet.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for p2c's choices.")
def serve(
    mode: str,
    backends: str,
    policy: str,
    routes: tuple[str, ...],
    host: str,
    port: int,
    hash_on: str,
    check_interval: float,
    no_startup_check: bool,
    seed: int,
) -> None:
    """Run an L4 or L7 load balancer in front of BACKENDS until interrupted.

    L4 splices each TCP connection to one backend; L7 parses HTTP/1.1 and routes, balances
    and retries each request on its own. A backend list that does not parse, or a backend
    that does not accept a connection at start-up, stops it with one line (exit 2).

    \b
    Examples:
      archlab lb serve --mode l4 --backends 127.0.0.1:9001,127.0.0.1:9002 --policy least-conn
      archlab lb serve --mode l7 --backends 127.0.0.1:9001 --route /api=127.0.0.1:9002
      archlab lb serve --mode l7 --backends 127.0.0.1:9001,127.0.0.1:9002 \\
          --policy consistent-hash --hash-on header:X-User
    """
    from archlab.net.loadgen import run
    from archlab.net.serve import ProxyConfig, serve_proxy

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    config = ProxyConfig(
        mode=mode,
        backends=tuple(parse_backends(backends)),
        routes=tuple(parse_route(r) for r in routes),
        policy=policy,
        host=host,
        port=port,
        check_interval=check_interval,
        hash_on=hash_on,
        seed=seed,
        startup_check=not no_startup_check,
    )
    run(lambda: serve_proxy(config))


@lb.command("origin")
@click.option("--name", default="origin", show_default=True, help="Named in every answer.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=9001, show_default=True)
def origin(name: str, host: str, port: int) -> None:
    """Run a small HTTP/1.1 origin server to put behind a balancer.

    \b
    It answers / with its name, /bytes/N with N bytes, /status/NNN with that status and
    /healthz for health checks. Example: archlab lb origin --name a --port 9001
    """
    from archlab.net.loadgen import run
    from archlab.net.serve import serve_origin

    run(lambda: serve_origin(name, host, port))


@lb.command("load")
@click.argument("url")
@click.option("--seconds", type=click.FloatRange(0.1), default=5.0, show_default=True)
@click.option(
    "--concurrency",
    type=click.IntRange(1),
    default=16,
    show_default=True,
    help="Closed loop: users, each waiting for its answer before the next request.",
)
@click.option(
    "--rate",
    type=click.FloatRange(1),
    default=None,
    help="Open loop: requests per second on a fixed schedule (latency from the "
    "intended send time).",
)
@click.option("--keep-alive/--no-keep-alive", default=True, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def load(
    url: str,
    seconds: float,
    concurrency: int,
    rate: float | None,
    keep_alive: bool,
    as_json: bool,
) -> None:
    """Send HTTP/1.1 GETs to URL, closed loop (default) or open loop (--rate).

    \b
    Examples:
      archlab lb load http://127.0.0.1:8080/ --concurrency 32 --seconds 10
      archlab lb load http://127.0.0.1:8080/api --rate 5000 --no-keep-alive
    """
    from archlab.net.loadgen import parse_url, run, run_load

    host, port, path = parse_url(url)
    result = run(
        lambda: run_load(
            host,
            port,
            mode="open" if rate else "closed",
            seconds=seconds,
            concurrency=concurrency,
            rate=rate or 0.0,
            keep_alive=keep_alive,
            path=path,
        )
    )
    if as_json:
        click.echo(json.dumps(result.__dict__, indent=2))
        return
    click.echo(
        f"{result.mode} loop, keep-alive {'on' if keep_alive else 'off'}: {result.requests} "
        f"requests in {result.seconds:.2f} s = {result.rps:,.0f}/s, errors {result.errors}"
    )
    click.echo(
        f"latency ms: p50 {result.p50_ms:.3f}  p90 {result.p90_ms:.3f}  p99 {result.p99_ms:.3f}"
        f"  max {result.max_ms:.3f}"
    )
    if result.backends:
        click.echo("backends: " + ", ".join(f"{k} {v}" for k, v in sorted(result.backends.items())))
