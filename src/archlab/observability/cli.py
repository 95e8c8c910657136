"""``archlab traces``: a tail-sampling OTLP collector, and a demo of three traced services."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from archlab.errors import ConfigError
from archlab.observability.sampling import Policy


def _policy(text: str) -> Policy:
    from archlab.observability import sampling

    parts = []
    for item in text.split(","):
        name, _, arg = item.strip().partition("=")
        try:
            if name == "errors" and not arg:
                parts.append(sampling.status_code_error())
            elif name == "latency":
                parts.append(sampling.latency_at_least(float(arg)))
            elif name == "probabilistic":
                parts.append(sampling.probabilistic(float(arg)))
            else:
                raise ValueError
        except ValueError:
            raise ConfigError(
                f"--policy: {item!r} is not errors, latency=SECONDS or probabilistic=SHARE"
            ) from None
    return sampling.any_of(*parts)


@click.group("traces")
def traces() -> None:
    """Head and tail trace sampling with OpenTelemetry (codex 9.1).

    \b
    Examples:
      archlab traces collector --port 4318 --policy errors,latency=0.5,probabilistic=0.05
      archlab traces demo --requests 300 --error-rate 0.02
    """


@traces.command("collector")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=4318,
    show_default=True,
    help="OTLP/HTTP's usual port; exporters send to http://HOST:PORT/v1/traces.",
)
@click.option(
    "--policy",
    default="errors,latency=0.5,probabilistic=0.05",
    show_default=True,
    help="Keep a trace when any of these holds: errors, latency=SECONDS, probabilistic=SHARE.",
)
@click.option(
    "--decision-wait",
    type=click.FloatRange(0),
    default=5.0,
    show_default=True,
    help="Seconds after a trace's root ends before deciding (stragglers arrive).",
)
@click.option(
    "--num-traces",
    type=click.IntRange(1),
    default=50_000,
    show_default=True,
    help="Traces held at most; past that the oldest is evicted undecided.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append kept spans to this JSON Lines file.",
)
def collector(
    host: str, port: int, policy: str, decision_wait: float, num_traces: int, output: Path | None
) -> None:
    """Receive OTLP/HTTP traces and keep whole traces by policy (GET /stats for counts)."""
    from archlab.observability.collector import Collector

    if output is not None and not output.parent.is_dir():
        raise ConfigError(f"--output {output}: directory {output.parent} does not exist")
    with Collector(
        _policy(policy),
        host=host,
        port=port,
        decision_wait=decision_wait,
        num_traces=num_traces,
        output=output,
    ) as c:
        click.echo(f"archlab traces: collecting at {c.url} (Ctrl-C to stop)", err=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            click.echo(json.dumps(c.stats()), err=True)


@traces.command("demo")
@click.option("--requests", type=click.IntRange(1, 100_000), default=300, show_default=True)
@click.option(
    "--error-rate",
    type=click.FloatRange(0, 1),
    default=0.02,
    show_default=True,
    help="Share of requests the payments service fails.",
)
@click.option(
    "--slow-rate",
    type=click.FloatRange(0, 1),
    default=0.03,
    show_default=True,
    help="Share of requests the payments service answers after 300 ms.",
)
@click.option(
    "--keep",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of ordinary traces kept besides errors and slow ones.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append kept spans to this JSON Lines file.",
)
@click.option("--json", "as_json", is_flag=True)
def demo(
    requests: int,
    error_rate: float,
    slow_rate: float,
    keep: float,
    output: Path | None,
    as_json: bool,
) -> None:
    """Three traced services in three processes, tail-sampled by the collector."""
    from archlab.observability.demo import run_demo

    result = run_demo(requests, error_rate, slow_rate, keep, output)
    whole = sum(1 for n in result.services_per_kept_trace.values() if n == 3)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "requests": result.requests,
                    "failed": result.failed_requests,
                    "kept_traces_with_all_three_services": whole,
                    "error_traces_kept": result.error_traces_kept,
                    **result.stats,
                }
            )
        )
        return
    click.echo(
        f"{result.requests} requests, {result.failed_requests} failed; the collector "
        f"received {result.stats['spans_received']} spans and kept "
        f"{result.stats['traces_kept']} traces ({whole} with spans from all three "
        f"services), including {result.error_traces_kept} error traces; dropped "
        f"{result.stats['traces_dropped']}, evicted {result.stats['traces_evicted']}"
    )
