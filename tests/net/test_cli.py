"""``archlab lb``: bad input stops it with one line and exit code 2; help has examples."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import run_cli


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backends", "127.0.0.1:x"], "no valid port"),
        (["--backends", "nohost"], "not HOST:PORT"),
        (["--backends", ","], "no backends given"),
        (["--backends", "127.0.0.1:80", "--route", "api=127.0.0.1:81"], "MATCH must be"),
    ],
)
def test_bad_backend_lists_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = run_cli(["lb", "serve", "--mode", "l7", *args])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_unreachable_backend_stops_start_up() -> None:
    port = _closed_port()
    result = run_cli(["lb", "serve", "--mode", "l4", "--backends", f"127.0.0.1:{port}"])
    assert result.exit_code == 2
    assert f"backend 127.0.0.1:{port} is unreachable" in result.stderr


def test_routes_need_l7() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        addr = f"127.0.0.1:{s.getsockname()[1]}"
        result = run_cli(
            ["lb", "serve", "--mode", "l4", "--backends", addr, "--route", f"/a={addr}"]
        )
    assert result.exit_code == 2 and "needs --mode l7" in result.stderr


def test_load_rejects_a_bad_url() -> None:
    result = run_cli(["lb", "load", "ftp://x/"])
    assert result.exit_code == 2 and "expected http://" in result.stderr


def test_help_has_examples() -> None:
    for command in (["lb"], ["lb", "serve"], ["lb", "load"], ["lb", "origin"]):
        result = run_cli([*command, "--help"])
        assert result.exit_code == 0 and "xample" in result.stdout


def test_load_drives_an_origin_closed_and_open_loop() -> None:
    import asyncio
    import json
    import threading

    from archlab.net.loadgen import new_event_loop
    from archlab.net.origin import Origin

    loop = new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    origin = asyncio.run_coroutine_threadsafe(Origin("a").start(), loop).result(5)
    try:
        url = f"http://127.0.0.1:{origin.port}/"
        closed = run_cli(["lb", "load", url, "--seconds", "0.2", "--concurrency", "2", "--json"])
        assert closed.exit_code == 0, closed.stderr
        result = json.loads(closed.stdout)
        assert result["mode"] == "closed" and result["requests"] > 0 and result["errors"] == 0
        opened = run_cli(
            ["lb", "load", url, "--seconds", "0.2", "--rate", "200", "--no-keep-alive"]
        )
        assert opened.exit_code == 0 and "open loop, keep-alive off" in opened.stdout
    finally:
        asyncio.run_coroutine_threadsafe(origin.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
