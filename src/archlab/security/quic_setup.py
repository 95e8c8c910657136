"""QUIC/TLS 1.3 endpoints for the 0-RTT experiments (codex 3.4): certificate, configurations,
and the server's session-ticket store.

Python's :mod:`ssl` cannot send early data, so TLS 1.3 resumption with 0-RTT goes through
``aioquic`` (its TLS 1.3 and QUIC). A server issues session tickets to clients after a full
handshake; a client presenting one on its next connection may send application data in its
first flight, encrypted under keys derived from the ticket (0-RTT). The server looks tickets
up through :class:`TicketStore`: with ``single_use`` a ticket is removed the first time it is
presented, which is the anti-replay defence of RFC 8446 §8.1 (a replayed first flight finds no
ticket, so its early data cannot be decrypted and the request is never seen).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from aioquic.quic.configuration import QuicConfiguration
from aioquic.tls import SessionTicket
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

ALPN = "archlab-0rtt"
SERVER_NAME = "localhost"


@dataclass(frozen=True)
class ServerCredentials:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def server_credentials(now: dt.datetime) -> ServerCredentials:
    """A small self-signed EC certificate for ``localhost`` (small: it fits the server's
    first flight under QUIC's 3x anti-amplification limit, so no extra round trip)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return ServerCredentials(cert, key)


def server_configuration(creds: ServerCredentials) -> QuicConfiguration:
    config = QuicConfiguration(is_client=False, alpn_protocols=[ALPN])
    config.certificate = creds.certificate
    config.private_key = creds.key
    return config


def client_configuration(
    creds: ServerCredentials, ticket: SessionTicket | None = None
) -> QuicConfiguration:
    config = QuicConfiguration(is_client=True, alpn_protocols=[ALPN], server_name=SERVER_NAME)
    config.cadata = creds.certificate.public_bytes(Encoding.PEM)
    config.session_ticket = ticket
    return config


@dataclass
class TicketStore:
    """The server's session tickets by id; ``single_use`` removes each on first presentation."""

    single_use: bool = False
    tickets: dict[bytes, SessionTicket] = field(default_factory=dict)
    presented: int = 0
    refused: int = 0

    def add(self, ticket: SessionTicket) -> None:
        self.tickets[ticket.ticket] = ticket

    def fetch(self, ticket_id: bytes) -> SessionTicket | None:
        self.presented += 1
        found = (
            self.tickets.pop(ticket_id, None) if self.single_use else self.tickets.get(ticket_id)
        )
        if found is None:
            self.refused += 1
        return found


@dataclass
class ClientTickets:
    """Where a client keeps the tickets servers gave it."""

    tickets: list[SessionTicket] = field(default_factory=list)

    def add(self, ticket: SessionTicket) -> None:
        self.tickets.append(ticket)

    @property
    def latest(self) -> SessionTicket | None:
        return self.tickets[-1] if self.tickets else None
