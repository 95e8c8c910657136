"""``archlab tiered``: Pulsar's model (bookies, brokers, tiered storage) as a demo and a server."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from archlab.errors import ConfigError, UnavailableError
from archlab.streaming.tiered.client import Refused, TieredClient
from archlab.streaming.tiered.cluster import TieredConfig
from archlab.streaming.tiered.objectstore import LocalDirectoryStore, ObjectStore, S3ObjectStore


@click.group("tiered")
def tiered() -> None:
    """Separated storage with tiering as Pulsar does it (codex 7.2): demo, serve, produce, consume.

    \b
    Examples:
      archlab tiered demo --messages 500
      archlab tiered demo --s3-endpoint http://127.0.0.1:9000 --bucket offload
      archlab tiered serve --dir /tmp/tiered --port 6650 --retention-hours 24
      archlab tiered produce --port 6650 orders 'first order' 'second order'
      archlab tiered consume --port 6650 orders --subscription audit --max 100
    """


def _store(directory: Path, endpoint: str | None, bucket: str) -> ObjectStore:
    if endpoint is None:
        return LocalDirectoryStore(directory / "objects")
    try:
        return S3ObjectStore.connect(endpoint, bucket)
    except ImportError:
        raise ConfigError("--s3-endpoint needs boto3 (pip install 'archlab[s3]')") from None
    except Exception as e:  # botocore's errors: no server, refused credentials ...
        raise ConfigError(f"--s3-endpoint {endpoint}: {e}") from None


_s3 = [
    click.option("--s3-endpoint", help="Offload to this S3-compatible endpoint (boto3)."),
    click.option("--bucket", default="archlab-offload", show_default=True, help="S3 bucket."),
]


def _with_s3(f: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(_s3):
        f = option(f)
    return f


@tiered.command("demo")
@click.option("--messages", type=click.IntRange(10), default=500, show_default=True)
@click.option("--dir", "directory", type=click.Path(path_type=Path), help="Keep the data here.")
@_with_s3
def demo_command(
    messages: int, directory: Path | None, s3_endpoint: str | None, bucket: str
) -> None:
    """Write, lose a bookie, take the topic over, offload, replay: what moved and what did not."""
    from archlab.streaming.tiered.demo import run_demo

    with contextlib.ExitStack() as stack:
        root = directory or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        for line in run_demo(root, _store(root, s3_endpoint, bucket), messages):
            click.echo(line)


@tiered.command("serve")
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=6650, show_default=True)
@click.option("--bookies", type=click.IntRange(1), default=3, show_default=True)
@click.option("--retention-hours", type=click.FloatRange(0, min_open=True))
@click.option("--offload/--no-offload", default=True, show_default=True)
@_with_s3
def serve_command(
    directory: Path,
    host: str,
    port: int,
    bookies: int,
    retention_hours: float | None,
    offload: bool,
    s3_endpoint: str | None,
    bucket: str,
) -> None:
    """Serve topics over TCP (the protocol in the README) until interrupted."""
    from archlab.streaming.tiered.server import TieredServer

    replicas = min(bookies, 3)
    config = TieredConfig(
        ensemble=replicas,
        write_quorum=replicas,
        ack_quorum=max(1, replicas - 1),
        max_ledger_age_s=600,
        retention_s=retention_hours * 3600 if retention_hours else None,
        offload=offload,
    )
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"--dir {directory}: not a directory")
    server = TieredServer(
        directory, _store(directory, s3_endpoint, bucket), config, bookies, host, port
    )

    async def main() -> None:
        await server.start()
        click.echo(f"tiered broker listening on {server.host}:{server.port}")
        try:
            await asyncio.Event().wait()
        finally:
            await server.close()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())
    except OSError as e:
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def _client(host: str, port: int) -> TieredClient:
    try:
        return TieredClient(host, port)
    except OSError as e:
        raise UnavailableError(f"no tiered broker at {host}:{port}: {e.strerror or e}") from None


@tiered.command("produce")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=6650, show_default=True)
@click.argument("topic")
@click.argument("messages", nargs=-1, required=True)
def produce_command(host: str, port: int, topic: str, messages: tuple[str, ...]) -> None:
    """Append MESSAGES to TOPIC; prints each message's position (ledger:entry)."""
    with _client(host, port) as client:
        for message in messages:
            ledger, entry = _call(functools.partial(client.produce, topic, message.encode()))
            click.echo(f"{ledger}:{entry}")


@tiered.command("consume")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=6650, show_default=True)
@click.argument("topic")
@click.option("--subscription", required=True, help="Created on first use.")
@click.option("--from", "initial", type=click.Choice(["earliest", "latest"]), default="earliest")
@click.option("--max", "limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
def consume_command(
    host: str, port: int, topic: str, subscription: str, initial: str, limit: int
) -> None:
    """Receive up to --max messages of TOPIC and acknowledge them (they stay in the log)."""
    with _client(host, port) as client:
        _call(lambda: client.subscribe(topic, subscription, initial))
        got = _call(lambda: client.receive(topic, subscription, limit))
        for ledger, entry, body in got:
            click.echo(f"{ledger}:{entry} {body.decode(errors='replace')}")
        if got:
            _call(lambda: client.ack(topic, subscription, got[-1][0], got[-1][1]))


T = TypeVar("T")


def _call(action: Callable[[], T]) -> T:
    try:
        return action()
    except Refused as e:
        raise ConfigError(f"broker refused: {e}") from None
