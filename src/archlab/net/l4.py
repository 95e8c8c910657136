"""The L4 load balancer (codex 3.1): one client TCP connection ↔ one backend connection.

It never parses the bytes: on accept it picks a backend (the key is the client's IP, for the
hash policies), connects, and splices bytes both ways with asyncio protocols: what one side
receives is written to the other, and when a side's send buffer fills the other side stops
reading (back-pressure). Half-close is passed through: a FIN from one side becomes
``write_eof`` on the other, and the connection pair closes when both directions have ended.
A backend that refuses the connection is reported to the health tracker and the next eligible
one is tried, up to ``attempts`` backends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from archlab.net.backends import Backend
from archlab.net.balancer import Balancer

log = logging.getLogger("archlab.net.l4")


class _Half(asyncio.Protocol):
    """One side of a spliced pair; ``peer`` is the other side."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Half | None = None
        self.eof = False
        self.pending: list[bytes] = []
        self.on_lost: Callable[[], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is None or peer.transport is None:
            self.pending.append(data)
            return
        peer.transport.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.transport.is_closing():
            if peer.transport.can_write_eof():
                peer.transport.write_eof()
            if peer.eof:
                self._close_both()
        return True  # keep our side open: the other direction may still carry data

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.on_lost is not None:
            self.on_lost()
            self.on_lost = None
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.transport.is_closing():
            peer.transport.close()  # close() still flushes what is buffered

    def _close_both(self) -> None:
        for side in (self, self.peer):
            if side is not None and side.transport is not None:
                side.transport.close()


class _Client(_Half):
    def __init__(self, proxy: L4Proxy) -> None:
        super().__init__()
        self.proxy = proxy

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.pause_reading()
        task = asyncio.get_running_loop().create_task(self.proxy._attach(self))
        self.proxy._tasks.add(task)
        task.add_done_callback(self.proxy._tasks.discard)


class L4Proxy:
    def __init__(self, balancer: Balancer, attempts: int = 3, connect_timeout: float = 2.0) -> None:
        self.balancer = balancer
        self.attempts = attempts
        self.connect_timeout = connect_timeout
        self.connections = 0
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._pairs: set[_Half] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Client(self), host, port, backlog=1024)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for half in list(self._pairs):
                half._close_both()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()

    async def _attach(self, client: _Client) -> None:
        assert client.transport is not None
        peer = client.transport.get_extra_info("peername")
        key = str(peer[0]) if peer else ""
        tried: set[str] = set()
        for _ in range(self.attempts):
            backend = self.balancer.pick(key, exclude=tried)
            if backend is None:
                break
            tried.add(backend.name)
            side = _Half()
            try:
                await asyncio.wait_for(self._connect(backend, side), self.connect_timeout)
            except (OSError, TimeoutError) as exc:
                self.balancer.failed(backend, f"connect: {exc}")
                continue
            self.balancer.succeeded(backend)
            self._splice(client, side, backend)
            return
        self.refused += 1
        log.warning("no backend accepted the connection from %s", key)
        client.transport.abort()

    async def _connect(self, backend: Backend, side: _Half) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: side, backend.host, backend.port)

    def _splice(self, client: _Client, side: _Half, backend: Backend) -> None:
        assert client.transport is not None and side.transport is not None
        client.peer, side.peer = side, client
        self.connections += 1
        self.balancer.opened(backend)
        self._pairs.add(client)

        def gone() -> None:
            self.balancer.closed(backend)
            self._pairs.discard(client)

        side.on_lost = gone
        for data in client.pending:
            side.transport.write(data)
        client.pending.clear()
        if client.transport.is_closing():
            side.transport.close()
        elif client.eof:
            side.transport.write_eof()
        else:
            client.transport.resume_reading()
