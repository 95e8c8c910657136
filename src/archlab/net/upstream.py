"""Keep-alive connections from the L7 proxy to its backends (codex 3.1).

:class:`UpstreamPool` keeps idle HTTP/1.1 connections per backend, so one client connection's
requests fan out over many backends without a TCP handshake each. A connection is an asyncio
protocol with an ``httptools`` response parser; :meth:`UpstreamConnection.exchange` sends one
request and waits for the whole response (bodies are buffered, up to ``MAX_BODY``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import cast

import httptools

from archlab.net.backends import Backend

MAX_BODY = 64 << 20


class UpstreamError(Exception):
    """The backend failed before a whole response arrived; ``sent``: the request went out."""

    def __init__(self, message: str, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


@dataclass
class UpstreamResponse:
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    keep_alive: bool = True


class UpstreamConnection(asyncio.Protocol):
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[UpstreamResponse] | None = None
        self._response: UpstreamResponse | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        self._head = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(f"connection closed ({exc or 'EOF'})")

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: the connection is not reusable
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"malformed response: {exc}")
            self.close()

    def on_message_begin(self) -> None:
        self._response = UpstreamResponse(0, b"")
        self._chunks = []
        self._size = 0

    def on_status(self, status: bytes) -> None:
        assert self._response is not None
        self._response.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._response is not None
        self._response.headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self._response is not None
        self._response.status = self._parser.get_status_code()
        if self._head:  # no body follows a HEAD response; this connection ends here
            self._response.keep_alive = False
            self._finish()
            self.close()

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_BODY:
            self._fail(f"response body over {MAX_BODY} bytes")
            self.close()
            return
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        if self._response is not None:
            self._response.keep_alive = self._parser.should_keep_alive()
            self._response.body = b"".join(self._chunks)
        self._finish()

    def _finish(self) -> None:
        waiter, response = self._waiter, self._response
        self._waiter, self._response = None, None
        if waiter is not None and response is not None and not waiter.done():
            waiter.set_result(response)

    def _fail(self, message: str) -> None:
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(UpstreamError(message, sent=True))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, request: bytes, head: bool, timeout: float) -> UpstreamResponse:
        if self.closed or self.transport is None or self.transport.is_closing():
            raise UpstreamError("connection already closed", sent=False)
        self._head = head
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[UpstreamResponse] = loop.create_future()
        self._waiter = waiter
        # A timer handle, not asyncio.wait_for: that would start a task for every request.
        timer = loop.call_later(timeout, self._time_out, waiter, timeout)
        self.transport.write(request)
        try:
            return await waiter
        finally:
            timer.cancel()

    def _time_out(self, waiter: asyncio.Future[UpstreamResponse], timeout: float) -> None:
        if not waiter.done():
            waiter.set_exception(UpstreamError(f"no response within {timeout:g} s", sent=True))
            self.close()


class UpstreamPool:
    """Idle keep-alive connections per backend (at most ``max_idle`` each)."""

    def __init__(self, max_idle: int = 64, connect_timeout: float = 2.0) -> None:
        self.max_idle = max_idle
        self.connect_timeout = connect_timeout
        self.opened = 0
        self.reused = 0
        self._idle: dict[str, deque[UpstreamConnection]] = {}

    async def acquire(self, backend: Backend) -> tuple[UpstreamConnection, bool]:
        """A connection to ``backend`` and whether it was reused from the pool."""
        idle = self._idle.get(backend.name)
        while idle:
            conn = idle.pop()
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                self.reused += 1
                return conn, True
        loop = asyncio.get_running_loop()
        conn = UpstreamConnection(backend)
        await asyncio.wait_for(
            loop.create_connection(lambda: conn, backend.host, backend.port),
            self.connect_timeout,
        )
        self.opened += 1
        return conn, False

    def release(self, conn: UpstreamConnection, keep_alive: bool) -> None:
        idle = self._idle.setdefault(conn.backend.name, deque())
        if keep_alive and not conn.closed and len(idle) < self.max_idle:
            idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
