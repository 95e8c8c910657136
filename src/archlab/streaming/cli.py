"""``archlab stream``: run the Kafka-compatible broker (codex 7.1)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import click

from archlab.errors import ConfigError


@click.group(name="stream")
def stream() -> None:
    """The Kafka-compatible log broker of chapter 7.1."""


@stream.command(name="serve")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("stream-data"),
    show_default=True,
    help="Where the logs live.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=int,
    default=9092,
    show_default=True,
    help="Port of broker 0; broker i listens on port+i (0: any free port).",
)
@click.option("--brokers", type=int, default=1, show_default=True, help="Brokers (nodes) to run.")
@click.option(
    "--partitions",
    type=int,
    default=1,
    show_default=True,
    help="Partitions of an auto-created topic.",
)
@click.option(
    "--segment-bytes",
    type=int,
    default=64 * 2**20,
    show_default=True,
    help="Roll a segment at this size.",
)
@click.option(
    "--flush-messages",
    type=int,
    default=1,
    show_default=True,
    help="fsync after this many batches (0: leave it to the OS).",
)
@click.option(
    "--flush-ms",
    type=int,
    default=-1,
    show_default=True,
    help="Also fsync when this many ms passed since the last one (-1: off).",
)
@click.option("--no-sendfile", is_flag=True, help="Serve fetches with read()+send().")
def serve(
    directory: Path,
    host: str,
    port: int,
    brokers: int,
    partitions: int,
    segment_bytes: int,
    flush_messages: int,
    flush_ms: int,
    no_sendfile: bool,
) -> None:
    """Run N brokers speaking the Kafka protocol; real Kafka clients can use them.

    \b
    Examples:
      archlab stream serve --dir /tmp/kafka --port 9092
      archlab stream serve --brokers 3 --partitions 6
      kcat -b 127.0.0.1:9092 -P -t demo   # any Kafka client works
    """
    from archlab.streaming.broker.server import KafkaServer, serve_forever
    from archlab.streaming.log.partition import LogConfig

    if brokers < 1 or partitions < 1 or segment_bytes < 1024 or flush_messages < 0:
        raise ConfigError(
            "--brokers and --partitions must be >= 1, "
            "--segment-bytes >= 1024, --flush-messages >= 0"
        )
    if not 0 <= port <= 65535 - brokers:
        raise ConfigError(f"--port {port} is not a usable port")
    logging.basicConfig(level=logging.INFO, format="archlab stream: %(message)s")
    ports = [0 if port == 0 else port + i for i in range(brokers)]
    server = KafkaServer(
        directory,
        host,
        ports,
        LogConfig(segment_bytes=segment_bytes, flush_messages=flush_messages, flush_ms=flush_ms),
        partitions,
        sendfile=not no_sendfile,
    )
    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(serve_forever(server))
        except OSError as exc:
            raise ConfigError(f"{exc}") from exc


@stream.command(name="replicate")
@click.option("--seeds", default="0-9", show_default=True, help="Seeds to run, as A-B or one N.")
@click.option("--acks", type=click.Choice(["0", "1", "all"]), default="all", show_default=True)
@click.option(
    "--variant",
    type=click.Choice(["correct", "broken"]),
    default="correct",
    show_default=True,
    help="broken: followers acknowledge before appending.",
)
@click.option(
    "--nemesis",
    default="crash,partition",
    show_default=True,
    help="Faults to inject (the simulator's names).",
)
@click.option("--ops", type=int, default=200, show_default=True, help="Appends per run.")
@click.option("--min-insync", type=int, default=2, show_default=True)
def replicate(seeds: str, acks: str, variant: str, nemesis: str, ops: int, min_insync: int) -> None:
    """Replicate a partition on three simulated brokers under faults, and check it.

    Each seed is one deterministic run; a run fails when an acknowledged record is missing
    from the final leader's committed log, or when a replica's log differs from the
    leader's after the faults heal. Exit code 1 if any run fails.

    \b
    Examples:
      archlab stream replicate --seeds 0-19
      archlab stream replicate --acks 1            # acks=1 loses records on failover
      archlab stream replicate --variant broken    # caught: acked records lost
    """
    from typing import Literal, cast

    from archlab.streaming.replication import ReplicationConfig
    from archlab.streaming.replication_check import run_replication

    low, _, high = seeds.partition("-")
    try:
        seed_range = range(int(low), int(high or low) + 1)
    except ValueError as exc:
        raise ConfigError(f"--seeds {seeds!r} is not N or A-B") from exc
    if ops < 1 or min_insync < 1:
        raise ConfigError("--ops and --min-insync must be >= 1")
    config = ReplicationConfig(
        variant=cast(Literal["correct", "broken"], variant),
        acks=cast(Literal["0", "1", "all"], acks),
        min_insync=min_insync,
    )
    failed = 0
    click.echo("seed  acked  refused  lost  diverged  elections  faults")
    for seed in seed_range:
        r = run_replication(seed, config, nemesis, ops)
        bad = r.lost > 0 or r.diverged_replicas > 0
        failed += bad
        click.echo(
            f"{seed:>4}  {r.acked:>5}  {r.refused:>7}  {r.lost:>4}  {r.diverged_replicas:>8}"
            f"  {r.elections:>9}  {r.faults:>6}{'  FAIL' if bad else ''}"
        )
    click.echo(f"{failed} of {len(seed_range)} runs lost or diverged")
    if failed:
        raise SystemExit(1)
