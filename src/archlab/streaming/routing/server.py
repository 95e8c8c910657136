"""The exchange broker served over TCP with asyncio: the host of the sans-IO core.

Each connection is one session of the :class:`~archlab.streaming.routing.broker.Broker`. The
host reads frames, lets :func:`~archlab.streaming.routing.protocol.handle` apply them, writes
the reply, then sends every delivery the broker produced to the connection it belongs to. A
timer expires messages (TTL) every ``tick_s``. A frame that cannot be decoded gets an error
reply (``501``/``502``) and the connection stays open; a length prefix over
:data:`~archlab.streaming.routing.wire.MAX_FRAME` cannot be resynchronised, so that connection
gets its error and is closed. Other clients are never affected. A closed connection's
unacknowledged messages go back to their queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time

from archlab.runtime.framing import FrameDecoder, FrameTooLarge
from archlab.streaming.routing.broker import Broker
from archlab.streaming.routing.protocol import delivery_frame, error_reply, handle
from archlab.streaming.routing.wire import FRAME_ERROR, MAX_FRAME, ProtocolError, decode, encode

log = logging.getLogger(__name__)


class ExchangeServer:
    """A broker and the connections to it; ``start`` binds, ``close`` tears everything down."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tick_s: float = 0.05) -> None:
        self.broker = Broker(time.monotonic)
        self.host = host
        self.port = port
        self.tick_s = tick_s
        self._writers: dict[int, asyncio.StreamWriter] = {}
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.protocol_errors = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._tick())

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers.values()):
            writer.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def serve_forever(self) -> None:
        await self.start()
        assert self._server is not None
        try:
            await self._server.serve_forever()
        finally:
            await self.close()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            if self.broker.expire():
                self._flush()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = next(self._ids)
        self._writers[session] = writer
        self.broker.open_session(session)
        frames = FrameDecoder(MAX_FRAME)
        try:
            while data := await reader.read(65536):
                try:
                    bodies = frames.feed(data)
                except FrameTooLarge as e:
                    self.protocol_errors += 1
                    writer.write(encode(error_reply(None, FRAME_ERROR, str(e))))
                    await writer.drain()
                    return
                for body in bodies:
                    self._request(session, writer, body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.pop(session, None)
            self.broker.close_session(session)
            self._flush()
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def _request(self, session: int, writer: asyncio.StreamWriter, body: bytes) -> None:
        try:
            header, payload = decode(body)
        except ProtocolError as e:
            self.protocol_errors += 1
            log.info("session %d: %s", session, e.text)
            writer.write(encode(error_reply(None, e.code, e.text)))
            return
        reply, reply_payload = handle(self.broker, session, header, payload)
        if not reply["ok"] and reply["code"] >= FRAME_ERROR:
            self.protocol_errors += 1
        writer.write(encode(reply, reply_payload))
        self._flush()

    def _flush(self) -> None:
        for delivery in self.broker.take_deliveries():
            target = self._writers.get(delivery.session)
            if target is not None:
                target.write(delivery_frame(delivery))


async def serve(host: str, port: int, ready: asyncio.Event | None = None) -> None:
    """Run a server until cancelled; set ``ready`` once listening."""
    server = ExchangeServer(host, port)
    await server.start()
    print(f"exchange broker listening on {server.host}:{server.port}", flush=True)
    if ready is not None:
        ready.set()
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()
