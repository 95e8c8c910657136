"""Replaying a recorded 0-RTT flight, and the two defences that stop it (codex 3.4).

TLS 1.3 early data has no replay protection of its own (RFC 8446 §8, §E.5): whoever records a
client's first flight (ClientHello with a resumption ticket, plus 0-RTT packets carrying a
request) can send it again to the server, which derives the same early keys from the ticket
and reads the same request a second time. This module shows it with real ``aioquic``
connections driven sans-IO on a virtual clock (no sockets, no sleeps), and measures:

* ``none``: the server accepts early data blindly: a replayed ``POST /transfer`` runs twice;
* ``idempotent_only``: requests that arrive before the handshake completes are executed only
  for safe methods (GET, HEAD); anything else gets ``425 Too Early`` (RFC 8470 §5.2) and the
  real client sends it again after the handshake, where it cannot be replayed;
* ``single_use_tickets``: the server's ticket store forgets a ticket once presented (RFC 8446
  §8.1), so the replayed flight finds no ticket and its early data is never decrypted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from aioquic.buffer import Buffer  # type: ignore[attr-defined]
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import HandshakeCompleted, QuicEvent, StreamDataReceived
from aioquic.quic.packet import pull_quic_header

from archlab.security.quic_setup import (
    ClientTickets,
    ServerCredentials,
    TicketStore,
    client_configuration,
    server_configuration,
    server_credentials,
)

Policy = Literal["none", "idempotent_only", "single_use_tickets"]
POLICIES: tuple[Policy, ...] = ("none", "idempotent_only", "single_use_tickets")
SAFE_METHODS = ("GET", "HEAD")
CLIENT_ADDR = ("192.0.2.1", 4433)
SERVER_ADDR = ("192.0.2.2", 443)
Address = tuple[str, int]


@dataclass
class Bank:
    """The server's application: reads one request per QUIC stream, answers, maybe executes."""

    policy: Policy
    executed: list[str] = field(default_factory=list)
    too_early: int = 0

    def serve(self, conn: QuicConnection, state: dict[int, bytes], events: list[QuicEvent]) -> None:
        for event in events:
            if isinstance(event, HandshakeCompleted):
                state[-1] = b"done"
            elif isinstance(event, StreamDataReceived):
                state[event.stream_id] = state.get(event.stream_id, b"") + event.data
                if event.end_stream:
                    early = -1 not in state  # arrived before the handshake completed
                    self._answer(conn, event.stream_id, state.pop(event.stream_id), early)

    def _answer(self, conn: QuicConnection, stream_id: int, request: bytes, early: bool) -> None:
        method, _, target = request.decode("ascii", "replace").partition(" ")
        if early and self.policy == "idempotent_only" and method not in SAFE_METHODS:
            self.too_early += 1
            conn.send_stream_data(stream_id, b"425 Too Early", end_stream=True)
            return
        self.executed.append(f"{method} {target.strip()}")
        conn.send_stream_data(stream_id, b"200 OK", end_stream=True)


class Wire:
    """Two endpoints and a virtual clock; datagrams move only when :meth:`pump` runs."""

    def __init__(self) -> None:
        self.now = 0.0

    def pump(
        self,
        client: QuicConnection,
        server: QuicConnection,
        on_server: Callable[[], None],
        on_client: Callable[[], None],
        rounds: int = 20,
    ) -> None:
        for _ in range(rounds):
            moved = 0
            for data, _ in client.datagrams_to_send(self.now):
                server.receive_datagram(data, CLIENT_ADDR, self.now)
                moved += 1
            on_server()
            for data, _ in server.datagrams_to_send(self.now):
                client.receive_datagram(data, SERVER_ADDR, self.now)
                moved += 1
            on_client()
            self.now += 0.01
            if not moved:
                return


def accept(first: bytes, creds: ServerCredentials, store: TicketStore) -> QuicConnection:
    """A fresh server connection for a client's first datagram, as a QUIC server makes one."""
    config = server_configuration(creds)
    header = pull_quic_header(Buffer(data=first), host_cid_length=config.connection_id_length)
    return QuicConnection(
        configuration=config,
        original_destination_connection_id=header.destination_cid,
        session_ticket_fetcher=store.fetch,
        session_ticket_handler=store.add,
    )


def drain(conn: QuicConnection) -> list[QuicEvent]:
    events = []
    while (event := conn.next_event()) is not None:
        events.append(event)
    return events


def discard(conn: QuicConnection) -> None:
    drain(conn)


@dataclass(frozen=True)
class ReplayRun:
    policy: Policy
    early_data_accepted: bool
    legit_executions: int  # the transfer executed by the real connection (should be 1)
    replay_executions: int  # executed again by the replayed flight
    too_early_answers: int
    client_answer: str


def run(
    policy: Policy, request: bytes = b"POST /transfer?to=mallory&amount=100", replays: int = 1
) -> ReplayRun:
    """Prime a ticket, send ``request`` as 0-RTT, record that flight and replay it."""
    creds = server_credentials(dt.datetime.now(dt.UTC))
    store = TicketStore(single_use=policy == "single_use_tickets")
    tickets = ClientTickets()
    wire = Wire()

    # 1. a first, full handshake: the server hands the client a session ticket
    priming = QuicConnection(
        configuration=client_configuration(creds), session_ticket_handler=tickets.add
    )
    priming.connect(SERVER_ADDR, wire.now)
    flight = [d for d, _ in priming.datagrams_to_send(wire.now)]
    server0 = accept(flight[0], creds, store)
    for data in flight:
        server0.receive_datagram(data, CLIENT_ADDR, wire.now)
    wire.pump(priming, server0, lambda: discard(server0), lambda: discard(priming))
    if tickets.latest is None:
        raise RuntimeError("the server issued no session ticket")

    # 2. the real client resumes and sends its request in the first flight (0-RTT)
    bank = Bank(policy)
    client = QuicConnection(
        configuration=client_configuration(creds, tickets.latest),
        session_ticket_handler=tickets.add,
    )
    client.connect(SERVER_ADDR, wire.now)
    stream = client.get_next_available_stream_id()
    client.send_stream_data(stream, request, end_stream=True)
    recorded = [d for d, _ in client.datagrams_to_send(wire.now)]  # what an attacker captures
    server1 = accept(recorded[0], creds, store)
    state1: dict[int, bytes] = {}
    for data in recorded:
        server1.receive_datagram(data, CLIENT_ADDR, wire.now)
    bank.serve(server1, state1, drain(server1))
    answers: dict[int, bytes] = {}
    resent = {"done": False}

    def client_side() -> None:
        for event in drain(client):
            if isinstance(event, StreamDataReceived):
                answers[event.stream_id] = answers.get(event.stream_id, b"") + event.data
        if answers.get(stream, b"").startswith(b"425") and not resent["done"]:
            resent["done"] = True  # RFC 8470 §5.2: retry once the handshake is complete
            again = client.get_next_available_stream_id()
            client.send_stream_data(again, request, end_stream=True)

    wire.pump(client, server1, lambda: bank.serve(server1, state1, drain(server1)), client_side)
    legit = len(bank.executed)
    accepted = bool(client.tls.early_data_accepted)

    # 3. the attacker replays the recorded first flight to the server, each time anew
    for _ in range(replays):
        server2 = accept(recorded[0], creds, store)
        state2: dict[int, bytes] = {}
        for data in recorded:
            server2.receive_datagram(data, CLIENT_ADDR, wire.now)
        bank.serve(server2, state2, drain(server2))
    final = b" / ".join(answers[s] for s in sorted(answers))
    return ReplayRun(
        policy,
        accepted,
        legit,
        len(bank.executed) - legit,
        bank.too_early,
        final.decode(),
    )
