"""Time to first byte of TLS 1.2, TLS 1.3 and TLS 1.3 0-RTT through an injected delay (3.4).

Four ways for a client to get its first response byte, each through a relay adding a fixed
round-trip time on loopback (:mod:`archlab.security.latency`):

* ``tls12``: Python's :mod:`ssl`, TLS 1.2 full handshake (two round trips), then the request;
* ``tls13``: Python's :mod:`ssl`, TLS 1.3 full handshake (one round trip), then the request;
* ``quic_1rtt``: ``aioquic`` (TLS 1.3 inside QUIC) without a ticket: the request waits for the
  one-round-trip handshake;
* ``quic_0rtt``: ``aioquic`` resuming with a session ticket: the request rides in the first
  flight as early data.

The clock starts when the client begins its handshake (for TLS, after the local TCP connect to
the relay) and stops at the first byte of the answer. :func:`rtts_per_request` fits the slope
of time against the injected RTT: the round trips each way really costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import QuicServer, serve
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import QuicEvent, StreamDataReceived
from aioquic.tls import SessionTicket
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from archlab.security.latency import TcpDelayRelay, UdpDelayRelay
from archlab.security.quic_setup import (
    SERVER_NAME,
    ClientTickets,
    ServerCredentials,
    TicketStore,
    client_configuration,
    server_configuration,
    server_credentials,
)

Mode = Literal["tls12", "tls13", "quic_1rtt", "quic_0rtt"]
MODES: tuple[Mode, ...] = ("tls12", "tls13", "quic_1rtt", "quic_0rtt")
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def _tls_contexts(
    creds: ServerCredentials, version: ssl.TLSVersion
) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for ctx in (server, client):
        ctx.minimum_version = ctx.maximum_version = version
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert.write_bytes(creds.certificate.public_bytes(Encoding.PEM))
        key.write_bytes(creds.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        server.load_cert_chain(cert, key)
    client.load_verify_locations(cadata=creds.certificate.public_bytes(Encoding.PEM).decode())
    return server, client


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(RESPONSE)
        await writer.drain()
    writer.close()


class _QuicServerProtocol(QuicConnectionProtocol):
    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamDataReceived) and event.end_stream:
            self._quic.send_stream_data(event.stream_id, RESPONSE, end_stream=True)
            self.transmit()


class _QuicClientProtocol(QuicConnectionProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first_byte: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamDataReceived) and event.data and not self.first_byte.done():
            self.first_byte.set_result(time.perf_counter())


@dataclass
class HandshakeBench:
    """The servers and relays for one injected RTT; :meth:`ttfb` times one request."""

    rtt_s: float

    async def __aenter__(self) -> HandshakeBench:
        self.creds = server_credentials(dt.datetime.now(dt.UTC))
        self.tls: dict[str, tuple[ssl.SSLContext, asyncio.AbstractServer, TcpDelayRelay]] = {}
        for mode, version in (("tls12", ssl.TLSVersion.TLSv1_2), ("tls13", ssl.TLSVersion.TLSv1_3)):
            server_ctx, client_ctx = _tls_contexts(self.creds, version)
            server = await asyncio.start_server(_answer, "127.0.0.1", 0, ssl=server_ctx)
            relay = TcpDelayRelay(("127.0.0.1", server.sockets[0].getsockname()[1]), self.rtt_s / 2)
            await relay.start()
            self.tls[mode] = (client_ctx, server, relay)
        self.store = TicketStore()
        self.tickets = ClientTickets()
        self.quic: QuicServer = await serve(
            "127.0.0.1",
            0,
            configuration=server_configuration(self.creds),
            create_protocol=_QuicServerProtocol,
            session_ticket_fetcher=self.store.fetch,
            session_ticket_handler=self.store.add,
        )
        assert self.quic._transport is not None
        quic_port = self.quic._transport.get_extra_info("sockname")[1]
        self.udp = UdpDelayRelay(("127.0.0.1", quic_port), self.rtt_s / 2)
        await self.udp.start()
        await self._quic_request(None)  # prime: the server hands out a session ticket
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.udp.close()
        self.quic.close()
        for _, server, relay in self.tls.values():
            await relay.close()
            server.close()

    async def ttfb(self, mode: Mode) -> float:
        if mode in self.tls:
            return await self._tls_request(mode)
        return await self._quic_request(self.tickets.latest if mode == "quic_0rtt" else None)

    async def _tls_request(self, mode: str) -> float:
        client_ctx, _, relay = self.tls[mode]
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await loop.sock_connect(sock, ("127.0.0.1", relay.port))
        start = time.perf_counter()
        reader, writer = await asyncio.open_connection(
            sock=sock, ssl=client_ctx, server_hostname=SERVER_NAME
        )
        writer.write(REQUEST)
        await reader.readexactly(1)
        elapsed = time.perf_counter() - start
        writer.close()
        return elapsed

    async def _quic_request(self, ticket: SessionTicket | None) -> float:
        loop = asyncio.get_running_loop()
        quic = QuicConnection(
            configuration=client_configuration(self.creds, ticket),
            session_ticket_handler=self.tickets.add,
        )
        transport, client = await loop.create_datagram_endpoint(
            lambda: _QuicClientProtocol(quic), local_addr=("127.0.0.1", 0)
        )
        try:
            start = time.perf_counter()
            client.connect(("127.0.0.1", self.udp.port), transmit=False)
            quic.send_stream_data(quic.get_next_available_stream_id(), REQUEST, end_stream=True)
            client.transmit()  # ClientHello, and the request as 0-RTT data when resuming
            first = await asyncio.wait_for(client.first_byte, 10 + 10 * self.rtt_s)
            if ticket is not None and not quic.tls.early_data_accepted:
                raise RuntimeError("the server did not accept early data")
            await asyncio.sleep(self.rtt_s)  # let the ticket for the next resumption arrive
            quic.close()
            client.transmit()
        finally:
            transport.close()
        return first - start


def rtts_per_request(rtts_s: list[float], times_s: list[float]) -> float:
    """Least-squares slope of time against injected RTT: round trips one request costs."""
    n = len(rtts_s)
    mean_x, mean_y = sum(rtts_s) / n, sum(times_s) / n
    sxx = sum((x - mean_x) ** 2 for x in rtts_s)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(rtts_s, times_s, strict=True))
    return sxy / sxx
