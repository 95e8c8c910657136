"""``archlab exchange``: declare, publish and get against a served broker."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest

from archlab.streaming.routing.server import ExchangeServer
from tests.conftest import run_cli


@pytest.fixture
def served() -> Iterator[int]:
    loop = asyncio.new_event_loop()
    server = ExchangeServer("127.0.0.1", 0)
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_declare_publish_get(served: int) -> None:
    port = str(served)
    r = run_cli(
        [
            "exchange",
            "declare",
            "--port",
            port,
            "logs",
            "topic",
            "--queue",
            "errors",
            "--bind",
            "*.error",
            "--bind",
            "db.#",
        ]
    )
    assert r.exit_code == 0, r.stderr
    r = run_cli(["exchange", "publish", "--port", port, "logs", "db.error", "disk full"])
    assert r.exit_code == 0 and "routed to 1 queue" in r.stdout
    r = run_cli(["exchange", "get", "--port", port, "errors", "--count", "5"])
    assert [json.loads(line) for line in r.stdout.splitlines()] == [
        {"routing_key": "db.error", "body": "disk full"}
    ]
    bad = run_cli(["exchange", "publish", "--port", port, "nowhere", "k", "b"])
    assert bad.exit_code == 2 and "404" in bad.stderr and "Traceback" not in bad.stderr


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_broker_is_one_line_exit_3() -> None:
    r = run_cli(["exchange", "get", "--port", str(free_port()), "q"])
    assert r.exit_code == 3 and "no exchange broker" in r.stderr


def test_a_busy_port_is_one_line_exit_2() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        r = run_cli(["exchange", "serve", "--port", port])
    assert r.exit_code == 2 and "cannot listen" in r.stderr and "Traceback" not in r.stderr
