"""TLS handshakes (3.4): every handshake answers through the relays; the judge and the fit."""

from __future__ import annotations

import asyncio

import pytest

from archlab.security.handshakes import MODES, HandshakeBench, rtts_per_request
from archlab.security.latency import TcpDelayRelay, UdpDelayRelay
from archlab.security.measure_tls_handshakes import (
    TlsHandshakesMeasurement,
    judge_tls_handshakes,
)


def test_every_handshake_gets_its_answer_through_the_relays() -> None:
    async def run() -> dict[str, float]:
        async with HandshakeBench(0.002) as bench:
            times = {m: await bench.ttfb(m) for m in MODES}  # 0-RTT raises if not accepted
            assert bench.store.presented >= 1, "the 0-RTT request resumed with a ticket"
            return times

    times = asyncio.run(run())
    assert set(times) == set(MODES) and all(t > 0 for t in times.values())


def test_the_relays_keep_order_in_both_directions() -> None:
    async def run() -> tuple[bytes, list[bytes]]:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.read(1000))
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        relay = TcpDelayRelay(("127.0.0.1", server.sockets[0].getsockname()[1]), 0.005)
        await relay.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
        writer.write(b"abc")
        tcp = await reader.read(1000)
        writer.close()
        await relay.close()
        server.close()

        loop = asyncio.get_running_loop()
        got: list[bytes] = []

        class Echo(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                self.transport.sendto(data, addr)  # type: ignore[attr-defined]

        class Sink(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                got.append(data)

        echo_t, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
        udp = UdpDelayRelay(("127.0.0.1", echo_t.get_extra_info("sockname")[1]), 0.005)
        await udp.start()
        sink, _ = await loop.create_datagram_endpoint(Sink, remote_addr=("127.0.0.1", udp.port))
        for i in range(5):
            sink.sendto(bytes([i]))
        await asyncio.sleep(0.1)
        sink.close()
        await udp.close()
        echo_t.close()
        return tcp, got

    tcp, udp = asyncio.run(run())
    assert tcp == b"abc"
    assert udp == [bytes([i]) for i in range(5)]


def test_the_slope_fit() -> None:
    rtts = [0.01, 0.02, 0.04, 0.08]
    assert rtts_per_request(rtts, [0.005 + 3 * r for r in rtts]) == pytest.approx(3.0)


def measured(slopes: dict[str, float]) -> TlsHandshakesMeasurement:
    return TlsHandshakesMeasurement(
        rtts_ms=[20.0, 80.0],
        ttfb_ms={m: [20 * s, 80 * s] for m, s in slopes.items()},
        rtts_per_request=slopes,
    )


@pytest.mark.parametrize(
    ("slopes", "verdict"),
    [
        # as measured on this machine: 2.97, 1.97, 1.96, 0.94 RTTs per request
        ({"tls12": 2.97, "tls13": 1.97, "quic_1rtt": 1.96, "quic_0rtt": 0.94}, "holds"),
        # a server that falls back to TLS 1.2: nothing saved
        ({"tls12": 2.95, "tls13": 2.9, "quic_1rtt": 2.0, "quic_0rtt": 1.0}, "refuted"),
        # early data refused by the server: the request waits for the handshake
        ({"tls12": 3.0, "tls13": 2.0, "quic_1rtt": 2.0, "quic_0rtt": 1.95}, "refuted"),
        # a round trip saved each time, but an extra one everywhere (e.g. a HelloRetryRequest)
        ({"tls12": 4.0, "tls13": 3.0, "quic_1rtt": 3.0, "quic_0rtt": 2.0}, "nuanced"),
    ],
)
def test_the_judge_reaches_each_verdict(slopes: dict[str, float], verdict: str) -> None:
    judgement = judge_tls_handshakes(measured(slopes))
    assert judgement.verdict == verdict
    assert all(e.threshold is not None and e.threshold.source for e in judgement.evidence)
