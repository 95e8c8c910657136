"""The asyncio host of :class:`~archlab.streaming.broker.broker.Broker` (``archlab stream serve``).

One listener per node on loopback (or the given host). Each connection is served in order,
one request at a time, as Kafka does: a frame is read, decoded, handled, and its response
written before the next frame is read; a :class:`~archlab.streaming.broker.broker.Pending`
reply (a long-poll fetch, a join waiting for the group) is polled whenever the broker's state
changes and at its deadline. The stored record bytes of a fetch are written with
``loop.sendfile`` (``os.sendfile`` on a plain TCP socket), or read and sent from user space
when ``sendfile=False`` (the benchmark's comparison).

Bad input never stops the broker: a frame that does not decode gets an INVALID_REQUEST reply,
an unknown API or version UNSUPPORTED_VERSION, and a frame larger than the limit closes only
that connection, each with one log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import struct
import time
from pathlib import Path
from typing import Any

from archlab.streaming.broker.broker import Broker
from archlab.streaming.broker.requests import Node, Pending
from archlab.streaming.log.partition import LogConfig, LogSlice
from archlab.streaming.protocol import errors
from archlab.streaming.protocol.framing import (
    MAX_FRAME_BYTES,
    Unsupported,
    encode_response,
    encode_unsupported,
    parse_request,
)
from archlab.streaming.protocol.schema import ProtocolError

log = logging.getLogger("archlab.stream")
TICK_S = 0.02


def now_ms() -> int:
    return int(time.time() * 1000)


class KafkaServer:
    def __init__(
        self,
        directory: Path,
        host: str = "127.0.0.1",
        ports: list[int] | None = None,
        log_config: LogConfig | None = None,
        default_partitions: int = 1,
        sendfile: bool = True,
        group_initial_delay_ms: int = 50,
    ) -> None:
        self.directory = directory
        self.host = host
        self.ports = ports or [9092]
        self.log_config = log_config
        self.default_partitions = default_partitions
        self.sendfile = sendfile
        self.group_initial_delay_ms = group_initial_delay_ms
        self.broker: Broker | None = None
        self.nodes: list[Node] = []
        self._servers: list[asyncio.Server] = []
        self._changed = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None

    async def start(self) -> list[Node]:
        for node_id, port in enumerate(self.ports):
            server = await asyncio.start_server(
                functools.partial(self._serve, node=node_id), self.host, port
            )
            bound = server.sockets[0].getsockname()[1]
            self._servers.append(server)
            self.nodes.append(Node(node_id, self.host, bound))
        self.broker = Broker(
            self.directory,
            self.nodes,
            now_ms(),
            self.log_config,
            self.default_partitions,
            self.group_initial_delay_ms,
        )
        for line in self.broker.recoveries():
            log.warning("recovered %s", line)
        self._ticker = asyncio.create_task(self._tick())
        return self.nodes

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for server in self._servers:
            server.close()
            await server.wait_closed()
        if self.broker is not None:
            self.broker.close()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            assert self.broker is not None
            self.broker.tick(now_ms())
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, node: int
    ) -> None:
        peer = writer.get_extra_info("peername")
        try:
            while True:
                try:
                    head = await reader.readexactly(4)
                except asyncio.IncompleteReadError:
                    return
                (size,) = struct.unpack(">i", head)
                if not 0 < size <= MAX_FRAME_BYTES:
                    log.warning("%s: frame of %d bytes refused; closing the connection", peer, size)
                    return
                frame = await reader.readexactly(size)
                await self._answer(frame, writer, node, peer)
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(
        self, frame: bytes, writer: asyncio.StreamWriter, node: int, peer: object
    ) -> None:
        assert self.broker is not None
        try:
            request = parse_request(frame)
        except ProtocolError as exc:
            log.warning("%s: malformed request: %s", peer, exc)
            (correlation,) = struct.unpack_from(">i", frame, 4) if len(frame) >= 8 else (0,)
            writer.write(struct.pack(">iih", 6, correlation, errors.INVALID_REQUEST))
            await writer.drain()
            return
        if isinstance(request, Unsupported):
            log.warning("%s: unsupported api %d v%d", peer, request.api_key, request.version)
            writer.write(encode_unsupported(request))
            await writer.drain()
            return
        try:
            reply = self.broker.handle(
                request.api.key, request.version, request.body, request.client_id, node, now_ms()
            )
        except Exception as exc:  # a request the handlers cannot take: answer, keep serving
            log.warning("%s: %s v%d failed: %r", peer, request.api.name, request.version, exc)
            writer.write(struct.pack(">iih", 6, request.correlation_id, errors.INVALID_REQUEST))
            await writer.drain()
            return
        self._notify()
        if isinstance(reply, Pending):
            reply = await self._wait(reply)
        if reply is None:
            return  # acks=0: no response
        parts = encode_response(request.api, request.version, request.correlation_id, reply)
        for part in parts:
            if isinstance(part, bytes):
                writer.write(part)
            else:
                await self._send_slice(writer, part)
        await writer.drain()

    async def _wait(self, pending: Pending) -> dict[str, Any]:
        while True:
            t = now_ms()
            ready = pending.poll(t)
            if ready is not None:
                return ready
            if t >= pending.deadline_ms + 1000:
                return pending.poll(t) or {"error_code": errors.REQUEST_TIMED_OUT}
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    changed.wait(), timeout=max(TICK_S, (pending.deadline_ms - t) / 1000)
                )

    async def _send_slice(self, writer: asyncio.StreamWriter, part: LogSlice) -> None:
        with part.path.open("rb") as f:
            if self.sendfile:
                await writer.drain()
                loop = asyncio.get_running_loop()
                await loop.sendfile(writer.transport, f, part.position, part.length)
            else:
                f.seek(part.position)
                writer.write(f.read(part.length))


async def serve_forever(server: KafkaServer, announce: bool = True) -> None:
    nodes = await server.start()
    if announce:
        for n in nodes:
            print(f"archlab stream: broker {n.node_id} listening on {n.host}:{n.port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()
