"""Connection migration on real UDP sockets (loopback): an aioquic client moves to a new
socket (a new source port, as after a NAT rebinding or a network change) mid-download and the
download completes on the same connection."""

from __future__ import annotations

import asyncio
import socket
from typing import Any, cast

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import serve
from aioquic.quic.events import QuicEvent, StreamDataReceived

from archlab.net.quic_link import configurations

TOTAL = 1 << 20


class _Server(QuicConnectionProtocol):
    peers: list[Any] = []  # noqa: RUF012 - the test reads where the server sent to

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamDataReceived) and event.end_stream:
            self._quic.send_stream_data(event.stream_id, b"d" * TOTAL, end_stream=True)
            self.transmit()
        _Server.peers.append(self._quic.get_peer_address())


class _Client(QuicConnectionProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received = 0
        self.done = asyncio.Event()
        self.half = asyncio.Event()

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamDataReceived):
            self.received += len(event.data)
            if self.received >= TOTAL // 2:
                self.half.set()
            if event.end_stream:
                self.done.set()


class _Relay(asyncio.DatagramProtocol):
    """The client's new socket: hands what it receives to the same QUIC connection."""

    def __init__(self, client: _Client) -> None:
        self.client = client

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.client.datagram_received(data, addr)


def test_an_aioquic_download_survives_a_new_source_address() -> None:
    async def main() -> None:
        client_config, server_config = configurations()
        _Server.peers = []
        server = await serve("127.0.0.1", 0, configuration=server_config, create_protocol=_Server)
        port = server._transport.get_extra_info("sockname")[1]
        try:
            async with connect(
                "127.0.0.1", port, configuration=client_config, create_protocol=_Client
            ) as protocol:
                client = cast(_Client, protocol)
                old = client._transport
                assert old is not None
                old_port = old.get_extra_info("sockname")[1]
                sid = client._quic.get_next_available_stream_id()
                client._quic.send_stream_data(sid, b"GET 0", end_stream=True)
                client.transmit()
                await asyncio.wait_for(client.half.wait(), 20)
                loop = asyncio.get_running_loop()
                sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)  # as aioquic's own
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                sock.bind(("::", 0, 0, 0))
                new, _ = await loop.create_datagram_endpoint(lambda: _Relay(client), sock=sock)
                client._transport = new  # from now on the client sends from a new port
                old.set_protocol(asyncio.DatagramProtocol())  # what reaches the old one is lost
                client._quic.change_connection_id()
                client._quic.send_ping(1)
                client.transmit()
                await asyncio.wait_for(client.done.wait(), 20)
                assert client.received == TOTAL
                new_port = new.get_extra_info("sockname")[1]
                assert new_port != old_port
                assert _Server.peers[-1][1] == new_port  # the server migrated to the new path
                old.close()
        finally:
            server.close()

    asyncio.run(main())
