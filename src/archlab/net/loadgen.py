"""``archlab lb load``: an HTTP/1.1 load generator, closed loop or open loop (codex 3.1).

* **Closed loop**: ``concurrency`` users, each sending its next request when the last answer
  came back. Throughput is what the system sustains; latency is per request.
* **Open loop**: requests are *scheduled* at a fixed rate, whatever the system does; each
  request's latency is measured from its **intended** send time, not from when a connection
  was free to send it, so a stall is charged to every request it delayed (no coordinated
  omission, in Gil Tene's terms).

Keep-alive on reuses connections; keep-alive off opens a new TCP connection per request and
sends ``Connection: close`` (what an L4 balancer's per-connection cost is about).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal, cast

import httptools

from archlab.lab.bench import percentile

Mode = Literal["closed", "open"]


@dataclass(frozen=True)
class LoadResult:
    mode: str
    keep_alive: bool
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    backends: dict[str, int]


class _Client(asyncio.Protocol):
    """One HTTP/1.1 client connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, str]] | None = None
        self.keep_alive = True
        self.backend = ""
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("closed before the response ended"))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(ConnectionError(f"bad response: {exc}"))

    def on_message_begin(self) -> None:
        self.backend = ""

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"x-backend":
            self.backend = value.decode("latin-1")

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), self.backend))

    async def send(self, request: bytes) -> tuple[int, str]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


class LoadGenerator:
    def __init__(
        self, host: str, port: int, path: str = "/", keep_alive: bool = True, timeout: float = 5.0
    ) -> None:
        self.host, self.port, self.keep_alive, self.timeout = host, port, keep_alive, timeout
        conn = "keep-alive" if keep_alive else "close"
        self.request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: {conn}\r\n\r\n"
        self._wire = self.request.encode()
        self._idle: deque[_Client] = deque()
        self._all: set[_Client] = set()
        self.latencies: list[float] = []
        self.errors = 0
        self.statuses: dict[str, int] = {}
        self.backends: dict[str, int] = {}

    async def _connection(self) -> _Client:
        while self._idle:
            client = self._idle.pop()
            if not client.closed:
                return client
        loop = asyncio.get_running_loop()
        client = _Client()
        await loop.create_connection(lambda: client, self.host, self.port)
        self._all.add(client)
        return client

    async def one(self, started: float) -> None:
        """One request; its latency counts from ``started`` (the intended send time)."""
        try:
            client = await asyncio.wait_for(self._connection(), self.timeout)
            status, backend = await asyncio.wait_for(client.send(self._wire), self.timeout)
        except (OSError, TimeoutError, ConnectionError):
            self.errors += 1
            return
        self.latencies.append(time.perf_counter() - started)
        self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
        if backend:
            self.backends[backend] = self.backends.get(backend, 0) + 1
        if self.keep_alive and client.keep_alive and not client.closed:
            self._idle.append(client)
        else:
            self._all.discard(client)
            if client.transport is not None:
                client.transport.close()

    async def closed_loop(self, concurrency: int, seconds: float) -> float:
        deadline = time.perf_counter() + seconds

        async def user() -> None:
            while time.perf_counter() < deadline:
                await self.one(time.perf_counter())

        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        return time.perf_counter() - started

    async def open_loop(self, rate: float, seconds: float) -> float:
        total = int(rate * seconds)
        started = time.perf_counter()
        tasks: set[asyncio.Task[None]] = set()
        for i in range(total):
            intended = started + i / rate
            delay = intended - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            task = asyncio.get_running_loop().create_task(self.one(intended))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=self.timeout + 1)
        return time.perf_counter() - started

    def close(self) -> None:
        for client in self._all:
            if client.transport is not None:
                client.transport.close()

    def result(self, mode: str, seconds: float) -> LoadResult:
        ms = [x * 1000 for x in self.latencies]
        return LoadResult(
            mode=mode,
            keep_alive=self.keep_alive,
            requests=len(ms),
            errors=self.errors,
            seconds=round(seconds, 3),
            rps=round(len(ms) / seconds, 1) if seconds > 0 else 0.0,
            p50_ms=round(percentile(ms, 50), 3) if ms else float("nan"),
            p90_ms=round(percentile(ms, 90), 3) if ms else float("nan"),
            p99_ms=round(percentile(ms, 99), 3) if ms else float("nan"),
            max_ms=round(max(ms), 3) if ms else float("nan"),
            statuses=dict(self.statuses),
            backends=dict(self.backends),
        )


async def run_load(
    host: str,
    port: int,
    *,
    mode: Mode = "closed",
    seconds: float = 2.0,
    concurrency: int = 16,
    rate: float = 1000.0,
    keep_alive: bool = True,
    path: str = "/",
    warmup: float = 0.0,
) -> LoadResult:
    if warmup > 0:
        warm = LoadGenerator(host, port, path, keep_alive)
        await warm.closed_loop(max(1, concurrency), warmup)
        warm.close()
    gen = LoadGenerator(host, port, path, keep_alive)
    try:
        if mode == "closed":
            elapsed = await gen.closed_loop(concurrency, seconds)
        else:
            elapsed = await gen.open_loop(rate, seconds)
    finally:
        gen.close()
    return gen.result(mode, elapsed)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it is installed, asyncio's otherwise."""
    with contextlib.suppress(ImportError):
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        return loop
    return asyncio.new_event_loop()


def run(main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run ``main()`` on a fresh (uv)loop."""
    loop = new_event_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def parse_url(url: str) -> tuple[str, int, str]:
    """``http://HOST:PORT/path`` as (host, port, path); anything else is a ConfigError."""
    from urllib.parse import urlsplit

    from archlab.errors import ConfigError

    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ConfigError(f"URL {url!r}: expected http://HOST:PORT/PATH")
    try:
        port = parts.port or 80
    except ValueError:
        raise ConfigError(f"URL {url!r}: the port is not a number in 1-65535") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, port, path
