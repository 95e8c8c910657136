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
@click.option("--no-sendfile", is_flag=True, help="Serve fetches with read()+send().")
def serve(
    directory: Path,
    host: str,
    port: int,
    brokers: int,
    partitions: int,
    segment_bytes: int,
    flush_messages: int,
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
            "stream serve: --brokers and --partitions must be >= 1, "
            "--segment-bytes >= 1024, --flush-messages >= 0"
        )
    if not 0 <= port <= 65535 - brokers:
        raise ConfigError(f"stream serve: --port {port} is not a usable port")
    logging.basicConfig(level=logging.INFO, format="archlab stream: %(message)s")
    ports = [0 if port == 0 else port + i for i in range(brokers)]
    server = KafkaServer(
        directory,
        host,
        ports,
        LogConfig(segment_bytes=segment_bytes, flush_messages=flush_messages),
        partitions,
        sendfile=not no_sendfile,
    )
    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(serve_forever(server))
        except OSError as exc:
            raise ConfigError(f"stream serve: {exc}") from exc
