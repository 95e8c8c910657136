"""Connection migration (codex 3.3): a download survives the client's address change over
QUIC; over a connection bound to its addresses, as TCP is, it must start again.

Both runs use aioquic on the virtual-clock link (:mod:`archlab.net.quic_link`). Halfway
through a download the client's address changes and its old address stops receiving:

* ``quic``: the client, told of the change, switches to a fresh connection ID and sends a
  PING from the new address; the server validates the new path and carries on.
* ``tcp``: the server's connection is bound to the client's address (TCP's 4-tuple) and
  refuses datagrams from the new one. Alone, the download never completes; so the client
  reconnects, pays the handshakes again and asks for the rest (an HTTP Range request). The
  TCP handshake's extra round trip (TCP and TLS 1.3 are two round trips; QUIC's one) is added
  as one RTT of waiting before the new connection starts.

The stall is the time from the address change to the first byte of data after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import QuicEvent, StreamDataReceived

from archlab.net.quic_link import Application, LinkSimulation

Transport = Literal["quic", "tcp"]
NEW_ADDRESS = ("10.0.0.3", 51000)


@dataclass
class _Downloader(Application):
    sim: LinkSimulation | None
    total: int
    transport: Transport
    reconnect: bool
    rtt: float
    received: int = 0
    changed_at: float | None = None
    resumed_at: float | None = None
    reconnects: int = 0
    finished_at: float | None = None
    arrivals: list[tuple[float, int]] = field(default_factory=list)

    def started(self, quic: QuicConnection, now: float) -> None:
        sid = quic.get_next_available_stream_id()
        quic.send_stream_data(sid, b"GET %d" % self.received, end_stream=True)

    def handle(self, quic: QuicConnection, event: QuicEvent, now: float) -> None:
        if not isinstance(event, StreamDataReceived) or not event.data:
            if isinstance(event, StreamDataReceived) and event.end_stream:
                self._maybe_done(now)
            return
        self.received += len(event.data)
        self.arrivals.append((now, self.received))
        if self.changed_at is not None and self.resumed_at is None:
            self.resumed_at = now
        if self.changed_at is None and self.received >= self.total // 2:
            self._change_address(quic, now)
        self._maybe_done(now)

    def _maybe_done(self, now: float) -> None:
        if self.received >= self.total and self.finished_at is None:
            self.finished_at = now

    def _change_address(self, quic: QuicConnection, now: float) -> None:
        assert self.sim is not None
        self.changed_at = now
        self.sim.rebind_client(NEW_ADDRESS)
        if self.transport == "quic":
            quic.change_connection_id()
            quic.send_ping(1)
        elif self.reconnect:
            self.reconnects += 1
            self.sim.call_at(now + self.rtt, self.sim.reconnect)  # + the SYN round trip

    def done(self) -> bool:
        return self.finished_at is not None


@dataclass
class _Server(Application):
    total: int

    def handle(self, quic: QuicConnection, event: QuicEvent, now: float) -> None:
        if isinstance(event, StreamDataReceived) and event.end_stream:
            offset = int(event.data.split()[-1])
            quic.send_stream_data(event.stream_id, b"d" * (self.total - offset), end_stream=True)


@dataclass(frozen=True)
class MigrationRun:
    transport: str
    completed: bool
    stall_ms: float  # address change -> first data byte after it (-1: never)
    total_ms: float
    reconnects: int
    refused_datagrams: int


def download_with_address_change(
    transport: Transport,
    *,
    total: int = 1 << 20,
    delay: float = 0.02,
    bits_per_second: float = 20e6,
    reconnect: bool = True,
    give_up_after: float = 30.0,
) -> MigrationRun:
    app = _Downloader(None, total, transport, reconnect, rtt=2 * delay)
    sim = LinkSimulation(app, _Server(total), delay=delay, bits_per_second=bits_per_second)
    app.sim = sim
    sim.bind_to_address = transport == "tcp"
    end = sim.run(until=give_up_after)
    stall = -1.0
    if app.changed_at is not None and app.resumed_at is not None:
        stall = round((app.resumed_at - app.changed_at) * 1000, 3)
    return MigrationRun(
        transport=transport,
        completed=app.done(),
        stall_ms=stall,
        total_ms=round(end * 1000, 3),
        reconnects=app.reconnects,
        refused_datagrams=sim.refused_from_new_address,
    )
