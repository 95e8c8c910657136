"""TCP connections carrying framed, encoded messages (the I/O half of the runtime).

- :class:`FramedConnection` is an asyncio protocol: bytes in are reassembled into frames
  (:class:`~archlab.runtime.framing.FrameDecoder`), decoded
  (:func:`~archlab.runtime.codec.decode_frame`) and handed to a callback; :meth:`send` encodes
  and writes. A stream that does not decode is a broken peer: the connection is closed, never
  guessed at.
- :class:`PeerLink` keeps one outbound connection to one peer alive, reconnecting with capped
  exponential backoff, and drops messages while it is down or while the socket's buffer is
  over its high-water mark: Raft tolerates message loss (it retransmits), not unbounded
  memory.
- :func:`parse_address` reads ``host:port``.

Every connection opens with a :class:`~archlab.runtime.codec.Hello` that says whether the
other side is a peer (and which node) or a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, cast

from archlab.errors import ConfigError
from archlab.runtime.codec import Frame, Hello, decode_frame, encode_frame
from archlab.runtime.framing import FrameDecoder, frame
from archlab.runtime.wire import DecodeError

log = logging.getLogger(__name__)

#: Bytes queued in a socket's user-space buffer above which a peer link drops messages.
HIGH_WATER = 8 * 1024 * 1024


def parse_address(text: str) -> tuple[str, int]:
    """``"127.0.0.1:7001"`` -> ``("127.0.0.1", 7001)``; :class:`ConfigError` otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"address {text!r} is not HOST:PORT")
    return host, int(port)


class FramedConnection(asyncio.Protocol):
    """One TCP connection speaking frames; see the module docstring."""

    def __init__(
        self,
        on_frame: Callable[[FramedConnection, Frame], None],
        on_close: Callable[[FramedConnection], None] | None = None,
    ) -> None:
        self._on_frame = on_frame
        self._on_close = on_close
        self._decoder = FrameDecoder()
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()
        #: What the other side said it is in its Hello (None until then).
        self.hello: Hello | None = None
        #: An id the owner may assign (the host numbers its client connections).
        self.tag: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            bodies = self._decoder.feed(data)
            frames = [decode_frame(body) for body in bodies]
        except DecodeError as exc:
            log.warning("closing a connection that sent an invalid frame: %s", exc)
            self.close()
            return
        for item in frames:
            if self.transport is None or self.transport.is_closing():
                return
            self._on_frame(self, item)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(None)
        if self._on_close is not None:
            self._on_close(self)

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def buffered(self) -> int:
        return 0 if self.transport is None else self.transport.get_write_buffer_size()

    def send(self, item: Frame) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame(encode_frame(item)))

    def send_many(self, items: list[Frame]) -> None:
        """Several frames in one write (one syscall for a whole batch)."""
        if self.transport is not None and not self.transport.is_closing() and items:
            self.transport.write(b"".join(frame(encode_frame(i)) for i in items))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(
    host: str,
    port: int,
    hello: Hello,
    on_frame: Callable[[FramedConnection, Frame], None],
    on_close: Callable[[FramedConnection], None] | None = None,
    timeout: float = 1.0,
) -> FramedConnection:
    """Open a connection, send ``hello``; raises ``OSError`` / ``TimeoutError`` on failure."""
    loop = asyncio.get_running_loop()
    _, protocol = await asyncio.wait_for(
        loop.create_connection(lambda: FramedConnection(on_frame, on_close), host, port),
        timeout,
    )
    transport = protocol.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            import socket

            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    protocol.send(hello)
    return protocol


class PeerLink:
    """The outbound connection from this node to one peer (see the module docstring)."""

    def __init__(self, me: int, peer: int, host: str, port: int) -> None:
        self.me, self.peer, self.host, self.port = me, peer, host, port
        self._conn: FramedConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        #: Messages dropped because the link was down or congested.
        self.dropped = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._keep_connected())

    async def stop(self) -> None:
        self._stopped = True
        if self._conn is not None:
            self._conn.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def send_many(self, items: list[Frame]) -> None:
        conn = self._conn
        if conn is None or not conn.is_open or conn.buffered() > HIGH_WATER:
            self.dropped += len(items)
            return
        conn.send_many(items)

    async def _keep_connected(self) -> None:
        delay = 0.02
        while not self._stopped:
            try:
                conn = await connect(
                    self.host, self.port, Hello("peer", self.me), lambda c, f: None
                )
            except (OSError, TimeoutError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            delay = 0.02
            self._conn = conn
            await conn.closed
            self._conn = None
