"""``archlab exchange``: the RabbitMQ-model broker over TCP, and a small client for it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable

import click

from archlab.errors import ConfigError, UnavailableError
from archlab.streaming.routing.client import ExchangeClient, RequestRefused
from archlab.streaming.routing.exchanges import EXCHANGE_TYPES, HeaderValue


@click.group("exchange")
def exchange() -> None:
    """Exchange routing as RabbitMQ does it (codex 7.2): serve, declare, publish, get.

    \b
    Examples:
      archlab exchange serve --port 5673
      archlab exchange declare --port 5673 logs topic --queue errors --bind '*.error'
      archlab exchange publish --port 5673 logs db.error 'disk full'
      archlab exchange get --port 5673 errors --count 10
    """


def _port_option(f: click.decorators.FC) -> click.decorators.FC:
    f = click.option("--host", default="127.0.0.1", show_default=True, help="Broker address.")(f)
    return click.option(
        "--port", type=click.IntRange(0, 65535), default=5673, show_default=True, help="Port."
    )(f)


@exchange.command("serve")
@_port_option
def serve_command(host: str, port: int) -> None:
    """Run the broker until interrupted (port 0: any free port, printed on start)."""
    from archlab.streaming.routing.server import serve

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(host, port))
    except OSError as e:
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


@exchange.command("declare")
@_port_option
@click.argument("name")
@click.argument("type", type=click.Choice(EXCHANGE_TYPES))
@click.option("--queue", help="Also declare this queue and bind it.")
@click.option("--bind", "keys", multiple=True, help="Binding key (repeatable).")
@click.option("--arg", "args", multiple=True, help="Binding argument NAME=VALUE (headers).")
def declare_command(
    host: str,
    port: int,
    name: str,
    type: str,
    queue: str | None,
    keys: tuple[str, ...],
    args: tuple[str, ...],
) -> None:
    """Declare an exchange, and optionally a queue bound to it."""
    arguments = dict(_pair(a) for a in args)

    async def go(client: ExchangeClient) -> None:
        await client.declare_exchange(name, type)
        if queue:
            await client.declare_queue(queue)
            for key in keys or ("",):
                await client.bind(queue, name, key, arguments or None)

    _with_client(host, port, go)
    click.echo(f"declared {type} exchange {name}" + (f", queue {queue} bound" if queue else ""))


@exchange.command("publish")
@_port_option
@click.argument("exchange_name")
@click.argument("routing_key")
@click.argument("body")
@click.option("--header", "headers", multiple=True, help="Message header NAME=VALUE.")
def publish_command(
    host: str, port: int, exchange_name: str, routing_key: str, body: str, headers: tuple[str, ...]
) -> None:
    """Publish one message; prints how many queues it reached."""
    routed: list[int] = []

    async def go(client: ExchangeClient) -> None:
        table: dict[str, HeaderValue] = dict(_pair(h) for h in headers)
        routed.append(await client.publish(exchange_name, routing_key, body.encode(), table))

    _with_client(host, port, go)
    click.echo(f"routed to {routed[0]} queue(s)")


@exchange.command("get")
@_port_option
@click.argument("queue")
@click.option("--count", type=click.IntRange(1), default=1, show_default=True)
def get_command(host: str, port: int, queue: str, count: int) -> None:
    """Fetch and acknowledge up to COUNT messages (acknowledged messages are deleted)."""

    async def go(client: ExchangeClient) -> None:
        for _ in range(count):
            got = await client.get(queue, auto_ack=True)
            if got is None:
                break
            click.echo(json.dumps({"routing_key": got.routing_key, "body": got.body.decode()}))

    _with_client(host, port, go)


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ConfigError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _with_client(host: str, port: int, action: Callable[[ExchangeClient], Awaitable[None]]) -> None:
    async def main() -> None:
        try:
            client = await ExchangeClient.connect(host, port)
        except OSError as e:
            raise UnavailableError(f"no exchange broker at {host}:{port}: {e.strerror}") from None
        try:
            await action(client)
        except RequestRefused as e:
            raise ConfigError(f"broker refused: {e}") from None
        finally:
            await client.close()

    asyncio.run(main())
