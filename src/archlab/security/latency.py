"""Relays that add a fixed one-way delay on loopback, for TCP and for UDP (codex 3.4).

Each relay forwards whatever arrives after ``delay_s`` in each direction, so a round trip
through it costs ``2 * delay_s`` more than loopback: the number of round trips a handshake
needs becomes visible in its time. Order within a direction is kept (equal delays, timers fire
in order). TCP's own connection set-up with the relay is not delayed (a user-space relay
cannot hold back a SYN-ACK), so times through the TCP relay count TLS's round trips and the
request's, not TCP's; QUIC has no separate transport handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

Address = tuple[str, int]


class TcpDelayRelay:
    """Listens on loopback and relays each connection to ``target`` with the delay added."""

    def __init__(self, target: Address, delay_s: float) -> None:
        self.target = target
        self.delay_s = delay_s
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self._writers |= {writer, up_writer}
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        except (ConnectionError, asyncio.CancelledError):  # torn down with the relay
            writer.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        try:
            while chunk := await reader.read(65536):
                loop.call_later(self.delay_s, _write, writer, chunk)
        except ConnectionError:
            pass
        loop.call_later(self.delay_s, _close, writer)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._writers:
                writer.close()
            await self._server.wait_closed()


def _write(writer: asyncio.StreamWriter, chunk: bytes) -> None:
    if not writer.is_closing():
        writer.write(chunk)


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, relay: UdpDelayRelay, client: Address) -> None:
        self.relay, self.client = relay, client

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.relay.back(data, self.client)


class UdpDelayRelay(asyncio.DatagramProtocol):
    """Relays datagrams between clients and ``target``, one upstream socket per client."""

    def __init__(self, target: Address, delay_s: float) -> None:
        self.target = target
        self.delay_s = delay_s
        self.port = 0
        self.transport: asyncio.DatagramTransport | None = None
        self.upstreams: dict[Address, asyncio.DatagramTransport] = {}
        self._pending: dict[Address, list[bytes]] = {}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", 0)
        )
        self.port = self.transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        client: Address = (addr[0], addr[1])
        loop = asyncio.get_running_loop()
        loop.call_later(self.delay_s, self._forward, data, client)

    def _forward(self, data: bytes, client: Address) -> None:
        upstream = self.upstreams.get(client)
        if upstream is not None:
            upstream.sendto(data)
            return
        pending = self._pending.setdefault(client, [])
        pending.append(data)
        if len(pending) == 1:
            asyncio.get_running_loop().create_task(self._open(client))

    async def _open(self, client: Address) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Upstream(self, client), remote_addr=self.target
        )
        self.upstreams[client] = transport
        for data in self._pending.pop(client, []):
            transport.sendto(data)

    def back(self, data: bytes, client: Address) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(self.delay_s, self._send_back, data, client)

    def _send_back(self, data: bytes, client: Address) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, client)

    async def close(self) -> None:
        for upstream in self.upstreams.values():
            upstream.close()
        if self.transport is not None:
            self.transport.close()
