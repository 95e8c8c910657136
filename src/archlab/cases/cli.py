"""``archlab case``: start the chapter 10 case-study systems (codex 10.1-10.5).

Each case is a subgroup; its command imports the case's code only when it runs.
"""

from __future__ import annotations

import asyncio

import click

from archlab.errors import ConfigError


@click.group("case")
def case() -> None:
    """Run the codex's case studies (chapter 10) as small real systems.

    \b
    Examples:
      archlab case ringpop serve --nodes 5 --duration 10
    """


@case.group("ringpop")
def ringpop() -> None:
    """Uber Ringpop (10.5): SWIM membership, a hash ring and request forwarding."""


@ringpop.command("serve")
@click.option("--nodes", default=4, show_default=True, help="Members to start on 127.0.0.1.")
@click.option("--duration", default=10.0, show_default=True, help="Seconds to run.")
@click.option("--period", default=0.2, show_default=True, help="SWIM protocol period (s).")
@click.option(
    "--crash-after",
    default=4.0,
    show_default=True,
    help="Stop one member after this many seconds (0: never).",
)
def ringpop_serve(nodes: int, duration: float, period: float, crash_after: float) -> None:
    """Start a SWIM cluster on loopback UDP, crash a member, and route keys through it.

    Every second it prints each member's view and where a few keys are handled, reached
    from a random member through handle_or_forward.

    \b
    Examples:
      archlab case ringpop serve
      archlab case ringpop serve --nodes 8 --period 0.1 --duration 5 --crash-after 2
    """
    if nodes < 2 or nodes > 64:
        raise ConfigError(f"--nodes must be between 2 and 64, not {nodes}")
    if period <= 0 or duration <= 0:
        raise ConfigError("--period and --duration must be positive")
    from archlab.cases.ringpop.serve import run_cluster

    asyncio.run(run_cluster(nodes, duration, period, crash_after, click.echo))
