"""A small, fast HTTP/1.1 origin server: the backend behind the load balancers.

asyncio protocol + ``httptools`` parser; keep-alive and pipelining; answers every request
with a body naming itself, echoes ``X-Forwarded-For`` as ``X-Seen-Forwarded-For`` (so tests
can see what the proxy added) and serves ``/healthz``. ``/status/NNN`` answers with that
status; ``/bytes/N`` with N bytes. A malformed request gets 400 and the connection closes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import cast

import httptools

log = logging.getLogger("archlab.net.origin")

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}


def response_bytes(
    status: int, body: bytes, headers: list[tuple[str, str]] | None = None, close: bool = False
) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    for k, v in headers or []:
        lines.append(f"{k}: {v}")
    lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class OriginStats:
    requests: int = 0
    connections: int = 0
    paths: dict[str, int] = field(default_factory=dict)


class _OriginProtocol(asyncio.Protocol):
    def __init__(self, name: str, stats: OriginStats, live: set[asyncio.Transport]) -> None:
        self.name = name
        self.stats = stats
        self.live = live
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.forwarded = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.live.add(self.transport)
        self.stats.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.live.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reply(400, b"upgrade not supported\n", close=True)
        except httptools.HttpParserError:
            self._reply(400, b"malformed request\n", close=True)

    def on_message_begin(self) -> None:
        self.url = b""
        self.forwarded = ""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"x-forwarded-for":
            self.forwarded = value.decode("latin-1")

    def on_message_complete(self) -> None:
        path = self.url.decode("latin-1").split("?", 1)[0]
        self.stats.requests += 1
        self.stats.paths[path] = self.stats.paths.get(path, 0) + 1
        keep = self.parser.should_keep_alive()
        headers = [("X-Backend", self.name)]
        if self.forwarded:
            headers.append(("X-Seen-Forwarded-For", self.forwarded))
        if path.startswith("/status/") and path[8:].isdigit():
            self._reply(int(path[8:]), b"status\n", headers, close=not keep)
        elif path.startswith("/bytes/") and path[7:].isdigit():
            self._reply(200, b"x" * min(int(path[7:]), 1 << 26), headers, close=not keep)
        else:
            self._reply(200, f"{self.name} {path}\n".encode(), headers, close=not keep)

    def _reply(
        self,
        status: int,
        body: bytes,
        headers: list[tuple[str, str]] | None = None,
        close: bool = False,
    ) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(response_bytes(status, body, headers, close))
        if close:
            self.transport.close()


class Origin:
    """``async with Origin("a") as o``: an origin on 127.0.0.1 and a free port (``o.port``)."""

    def __init__(self, name: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.stats = OriginStats()
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.Transport] = set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> Origin:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _OriginProtocol(self.name, self.stats, self._live),
            self.host,
            self.port,
            backlog=1024,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for transport in list(self._live):
                transport.abort()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Origin:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
