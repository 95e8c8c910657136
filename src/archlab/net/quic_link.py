"""Two QUIC endpoints over a simulated link, on a virtual clock (codex 3.3).

aioquic's :class:`~aioquic.quic.connection.QuicConnection` is sans-IO: it takes datagrams and
the time, and returns datagrams and timers. :class:`LinkSimulation` carries those datagrams
between a client and a server over a link with a one-way delay, a bandwidth (each datagram
is serialised in turn) and a **loss pattern**: the set of datagram indices, per direction,
that the link drops. The same pattern can be replayed against different applications, so
two runs differ only in what the applications do. Time is virtual: a run is a pure function
of its parameters and takes no wall time beyond aioquic's own computation.

An :class:`Application` sits on each endpoint and reacts to its QUIC events. The client's
address can change mid-run (:meth:`LinkSimulation.rebind_client`) for connection migration.
"""

from __future__ import annotations

import datetime
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import QuicEvent
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from archlab.randomness import RandomSource

Address = tuple[str, int]
SERVER: Address = ("10.0.0.1", 443)
CLIENT: Address = ("10.0.0.2", 50000)


@lru_cache(maxsize=1)
def self_signed() -> tuple[x509.Certificate, ed25519.Ed25519PrivateKey]:
    """A throwaway certificate for the simulated server (the client does not verify it).

    Ed25519, whose signatures always have the same length: with ECDSA the handshake's size
    (and so every later packet's timing) would vary by a byte or two from run to run.
    """
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "archlab.test")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(key, None)
    )
    return cert, key


def configurations(window: int = 4 << 20) -> tuple[QuicConfiguration, QuicConfiguration]:
    client = QuicConfiguration(is_client=True, alpn_protocols=["archlab"], verify_mode=0)
    server = QuicConfiguration(is_client=False, alpn_protocols=["archlab"])
    server.certificate, server.private_key = self_signed()
    for c in (client, server):
        c.max_data = window
        c.max_stream_data = window
        c.idle_timeout = 600.0
    return client, server


def loss_pattern(rng: RandomSource, rate: float, datagrams: int = 20_000) -> frozenset[int]:
    """The indices (of ``datagrams``) a link losing a fraction ``rate`` drops, at random."""
    return frozenset(i for i in range(datagrams) if rng.random() < rate)


class Application:
    """What runs on an endpoint: reacts to events, may send, says when it is done."""

    def started(self, quic: QuicConnection, now: float) -> None:
        """Called once the endpoint exists (the client before its first flight)."""

    def handle(self, quic: QuicConnection, event: QuicEvent, now: float) -> None:
        raise NotImplementedError

    def done(self) -> bool:
        return False


@dataclass
class Link:
    """One direction: delay, bandwidth, and which datagram indices it drops."""

    delay: float
    bits_per_second: float
    drops: frozenset[int] = frozenset()
    sent: int = 0
    dropped: int = 0
    busy_until: float = 0.0

    def schedule(self, now: float, size: int) -> float | None:
        """When a datagram sent now arrives, or None when the link drops it."""
        index = self.sent
        self.sent += 1
        start = max(now, self.busy_until)
        self.busy_until = start + size * 8 / self.bits_per_second
        if index in self.drops:
            self.dropped += 1
            return None
        return self.busy_until + self.delay


@dataclass(order=True)
class _Arrival:
    at: float
    seq: int
    to_server: bool = field(compare=False)
    data: bytes = field(compare=False)
    source: Address = field(compare=False)
    generation: int = field(compare=False, default=0)


class LinkSimulation:
    def __init__(
        self,
        client_app: Application,
        server_app: Application,
        *,
        delay: float = 0.02,
        bits_per_second: float = 20e6,
        down_drops: frozenset[int] = frozenset(),
        up_drops: frozenset[int] = frozenset(),
    ) -> None:
        client_config, self.server_config = configurations()
        self.client = QuicConnection(configuration=client_config)
        self.server: QuicConnection | None = None
        self.client_app, self.server_app = client_app, server_app
        self.up = Link(delay, bits_per_second, up_drops)  # client -> server
        self.down = Link(delay, bits_per_second, down_drops)  # server -> client
        self.client_address: Address = CLIENT
        self._paths: dict[Address, tuple[Link, Link]] = {CLIENT: (self.up, self.down)}
        self.now = 0.0
        self._arrivals: list[_Arrival] = []
        self._seq = 0
        #: Datagrams the server sent to an address the client no longer has.
        self.lost_to_old_address = 0
        #: A connection bound to its addresses, like TCP's 4-tuple: the server takes no
        #: datagram from any other client address (a kernel would answer with a reset).
        self.bind_to_address = False
        self._bound: Address | None = None
        self.refused_from_new_address = 0
        self.generation = 0
        self._calls: list[tuple[float, int, Callable[[], None]]] = []
        self.on_step: Callable[[LinkSimulation], None] | None = None

    def call_at(self, at: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` at virtual time ``at`` (an application's own timer)."""
        self._seq += 1
        heapq.heappush(self._calls, (at, self._seq, fn))

    def reconnect(self) -> None:
        """Abandon the connection and open a new one from the client's current address."""
        self.generation += 1
        client_config, _ = configurations()
        self.client = QuicConnection(configuration=client_config)
        self.server = None
        self._bound = None
        self.client.connect(SERVER, now=self.now)
        self.client_app.started(self.client, self.now)

    def rebind_client(self, address: Address) -> None:
        """The client's address changes now (Wi-Fi to cellular): a new path with links of
        its own, so what was queued towards the old address neither arrives nor delays it."""
        self.client_address = address
        self._paths.setdefault(address, (self._new_link(self.up), self._new_link(self.down)))
        self.up, self.down = self._paths[address]

    @staticmethod
    def _new_link(like: Link) -> Link:
        return Link(like.delay, like.bits_per_second, like.drops)

    def _flush(self) -> None:
        for data, _ in self.client.datagrams_to_send(self.now):
            self._send(True, data, self.client_address)
        if self.server is not None:
            for data, addr in self.server.datagrams_to_send(self.now):
                self._send(False, data, addr)

    def _send(self, to_server: bool, data: bytes, address: Address) -> None:
        """Up: ``address`` is the source; down: the destination."""
        up, down = self._paths.get(address, (self.up, self.down))
        at = (up if to_server else down).schedule(self.now, len(data))
        if at is not None:
            self._seq += 1
            arrival = _Arrival(at, self._seq, to_server, data, address, self.generation)
            heapq.heappush(self._arrivals, arrival)

    def _events(self) -> None:
        while (event := self.client.next_event()) is not None:
            self.client_app.handle(self.client, event, self.now)
        if self.server is not None:
            while (event := self.server.next_event()) is not None:
                self.server_app.handle(self.server, event, self.now)

    def run(self, until: float = 600.0) -> float:
        """Run until the client application is done (or ``until``); returns the time."""
        self.client.connect(SERVER, now=self.now)
        self.client_app.started(self.client, self.now)
        self._flush()
        idle = 0
        while not self.client_app.done() and self.now < until:
            timers = [(t, q) for q in (self.client, self.server) if q and (t := q.get_timer())]
            next_timer = min(timers, key=lambda x: x[0]) if timers else None
            arrival = self._arrivals[0] if self._arrivals else None
            call = self._calls[0] if self._calls else None
            if arrival is None and next_timer is None and call is None:
                break
            if call is not None and all(
                t is None or call[0] <= t
                for t in (arrival.at if arrival else None, next_timer[0] if next_timer else None)
            ):
                heapq.heappop(self._calls)
                self.now = max(self.now, call[0])
                call[2]()
            elif arrival is not None and (next_timer is None or arrival.at <= next_timer[0]):
                heapq.heappop(self._arrivals)
                self.now = max(self.now, arrival.at)
                self._deliver(arrival)
            else:
                assert next_timer is not None
                if next_timer[0] <= self.now:
                    idle += 1
                    if idle > 8:  # a pacing timer of now + 1e-17 s rounds to now: step over it
                        self.now += 1e-6
                        idle = 0
                else:
                    idle = 0
                self.now = max(self.now, next_timer[0])
                next_timer[1].handle_timer(self.now)
            self._events()
            if self.on_step is not None:
                self.on_step(self)
            self._flush()
        return self.now

    def _deliver(self, arrival: _Arrival) -> None:
        if arrival.generation != self.generation:
            return  # for a connection the client has abandoned
        if not arrival.to_server:
            if arrival.source != self.client_address:
                self.lost_to_old_address += 1  # the client no longer has that address
                return
            self.client.receive_datagram(arrival.data, SERVER, self.now)
            return
        if self.server is not None and self._bound is not None and arrival.source != self._bound:
            self.refused_from_new_address += 1
            return
        if self.server is None:
            self._bound = arrival.source if self.bind_to_address else None
            self.server = QuicConnection(
                configuration=self.server_config,
                original_destination_connection_id=self.client.original_destination_connection_id,
            )
            self.server_app.started(self.server, self.now)
        self.server.receive_datagram(arrival.data, arrival.source, self.now)
