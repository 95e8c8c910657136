"""The L4 and L7 balancers on real loopback sockets, with real clients (raw sockets, curl-like
HTTP/1.1 clients, the load generator)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from archlab.net.backends import Backend, parse_backends
from archlab.net.balancer import Balancer
from archlab.net.l4 import L4Proxy
from archlab.net.l7 import L7Proxy
from archlab.net.loadgen import run, run_load
from archlab.net.origin import Origin
from archlab.net.routing import Router, parse_route


def arun(main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return run(lambda: asyncio.wait_for(main(), 20))


async def http_get(
    port: int, path: str = "/", extra: str = ""
) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\n{extra}Connection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


async def free_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()
    return port


class _Echo:
    """A TCP server that echoes, and answers 'bye' after the client half-closes."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # until the client's FIN
        writer.write(data.upper() + b" bye")
        await writer.drain()
        writer.close()


def test_l4_splices_both_ways_and_passes_half_close() -> None:
    async def main() -> None:
        echo = await asyncio.start_server(_Echo().handle, "127.0.0.1", 0)
        port = echo.sockets[0].getsockname()[1]
        proxy = L4Proxy(Balancer([Backend("127.0.0.1", port)], "round-robin", random.Random(0)))
        lport = await proxy.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", lport)
            writer.write(b"hello " * 10_000)
            writer.write_eof()  # half-close: we still read the answer
            answer = await reader.read()
            assert answer == (b"HELLO " * 10_000) + b" bye"
            writer.close()
            assert proxy.connections == 1
        finally:
            await proxy.close()
            echo.close()

    arun(main)


def test_l4_skips_a_dead_backend_and_balances() -> None:
    async def main() -> None:
        dead = await free_port()
        async with Origin("a") as a, Origin("b") as b:
            backends = parse_backends(f"127.0.0.1:{dead},{a.address},{b.address}")
            proxy = L4Proxy(Balancer(backends, "round-robin", random.Random(0)))
            port = await proxy.start()
            try:
                seen = [(await http_get(port))[1]["x-backend"] for _ in range(6)]
                assert set(seen) == {"a", "b"}
                assert not proxy.balancer.health.is_up(f"127.0.0.1:{dead}")
            finally:
                await proxy.close()

    arun(main)


def test_l7_routes_by_path_host_and_header_and_adds_forwarded_for() -> None:
    async def main() -> None:
        async with Origin("web") as web, Origin("api") as api, Origin("blue") as blue:
            router = Router(
                parse_backends(web.address),
                [
                    parse_route(f"/api={api.address}"),
                    parse_route(f"host:shop.example={blue.address}"),
                    parse_route(f"header:X-Tenant:blue={blue.address}"),
                ],
            )
            proxy = L7Proxy(router, "round-robin", random.Random(0))
            port = await proxy.start()
            try:
                assert (await http_get(port, "/"))[2] == b"web /\n"
                assert (await http_get(port, "/api/users"))[2] == b"api /api/users\n"
                assert (await http_get(port, "/apix"))[1]["x-backend"] == "web"
                _status, headers, _ = await http_get(port, "/", "X-Tenant: blue\r\n")
                assert headers["x-backend"] == "blue"
                _, headers, _ = await http_get(port, "/", "X-Forwarded-For: 10.0.0.9\r\n")
                assert headers["x-seen-forwarded-for"] == "10.0.0.9, 127.0.0.1"
                assert proxy.routed["/api"] == 1
            finally:
                await proxy.close()

    arun(main)


def test_l7_one_keep_alive_client_fans_out_over_pooled_backend_connections() -> None:
    async def main() -> None:
        async with Origin("a") as a, Origin("b") as b, Origin("c") as c:
            router = Router(parse_backends(f"{a.address},{b.address},{c.address}"))
            proxy = L7Proxy(router, "round-robin", random.Random(0))
            port = await proxy.start()
            try:
                result = await run_load("127.0.0.1", port, concurrency=1, seconds=0.3)
                assert result.errors == 0 and set(result.backends) == {"a", "b", "c"}
                # one client connection, and at most a few backend connections each
                assert proxy.pool.opened <= 3 and proxy.pool.reused > 10
            finally:
                await proxy.close()

    arun(main)


def test_l7_retries_idempotent_requests_and_not_posts() -> None:
    async def main() -> None:
        dead = await free_port()
        async with Origin("a") as a:
            router = Router(parse_backends(f"127.0.0.1:{dead},{a.address}"))
            proxy = L7Proxy(router, "round-robin", random.Random(0))
            port = await proxy.start()
            try:
                for _ in range(4):
                    status, headers, _ = await http_get(port)
                    assert status == 200 and headers["x-backend"] == "a"
                assert proxy.retries >= 1
            finally:
                await proxy.close()

    arun(main)


def test_l7_post_is_not_repeated_after_the_backend_saw_it() -> None:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()  # took the request, answered nothing

    async def main() -> None:
        bad = await asyncio.start_server(swallow, "127.0.0.1", 0)
        bad_port = bad.sockets[0].getsockname()[1]
        async with Origin("a") as a:
            router = Router(parse_backends(f"127.0.0.1:{bad_port},{a.address}"))
            proxy = L7Proxy(router, "round-robin", random.Random(0))
            port = await proxy.start()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"POST /pay HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
                line = await reader.readline()
                assert line.startswith(b"HTTP/1.1 502")
                writer.close()
                status, _, _ = await http_get(port)  # a GET is retried on a
                assert status == 200
            finally:
                await proxy.close()
                bad.close()

    arun(main)


def test_l7_health_checks_eject_and_readmit() -> None:
    async def main() -> None:
        a = await Origin("a").start()
        b = await Origin("b").start()
        b_port = b.port
        router = Router(parse_backends(f"{a.address},{b.address}"))
        proxy = L7Proxy(router, "round-robin", random.Random(0))
        port = await proxy.start(check_interval=0.05)
        balancer = proxy.balancers["default"]
        try:
            await b.close()
            for _ in range(60):
                await asyncio.sleep(0.05)
                if not balancer.health.is_up(f"127.0.0.1:{b_port}"):
                    break
            assert not balancer.health.is_up(f"127.0.0.1:{b_port}")
            assert {(await http_get(port))[1]["x-backend"] for _ in range(4)} == {"a"}
            b = await Origin("b", port=b_port).start()
            for _ in range(60):
                await asyncio.sleep(0.05)
                if balancer.health.is_up(f"127.0.0.1:{b_port}"):
                    break
            assert {(await http_get(port))[1]["x-backend"] for _ in range(4)} == {"a", "b"}
        finally:
            await proxy.close()
            await a.close()
            await b.close()

    arun(main)


@pytest.fixture
def l7_port() -> Any:
    """An origin and an L7 proxy on a background loop for the fuzz test."""
    import threading

    from archlab.net.loadgen import new_event_loop

    loop = new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[Origin, L7Proxy, int]:
        origin = await Origin("a").start()
        proxy = L7Proxy(Router(parse_backends(origin.address)), "round-robin", random.Random(0))
        return origin, proxy, await proxy.start()

    origin, proxy, port = asyncio.run_coroutine_threadsafe(start(), loop).result(5)
    try:
        yield port
    finally:

        async def stop() -> None:
            await proxy.close()
            await origin.close()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def _exchange(port: int, data: bytes) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


_PREFIXES = [b"GET / HTTP/1.1\r\n", b"POST /x HTTP/1.1\r\nContent-Length: ", b"GET"]
_GOOD = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    junk=st.one_of(
        st.binary(min_size=1, max_size=200),
        st.builds(
            lambda a, b: a + b,
            st.sampled_from(
                [b"GET / HTTP/1.1\r\n", b"POST /x HTTP/1.1\r\nContent-Length: ", b"GET"]
            ),
            st.binary(max_size=80),
        ),
    )
)
def test_l7_never_crashes_on_a_clients_bytes(l7_port: int, junk: bytes) -> None:
    answer = _exchange(l7_port, junk + b"\r\n\r\n")
    assert answer == b"" or answer.startswith(b"HTTP/1.1 ")
    assert _exchange(l7_port, _GOOD).startswith(b"HTTP/1.1 200")  # still serving others


def test_l7_malformed_request_gets_400(l7_port: int) -> None:
    answer = _exchange(l7_port, b"NOT HTTP AT ALL\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    assert _exchange(l7_port, _GOOD).startswith(b"HTTP/1.1 200")
