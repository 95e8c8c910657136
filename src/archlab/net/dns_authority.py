"""A tiny authoritative DNS server for DNS-based failover (codex 3.2), on ``dnslib``.

It answers ``A`` queries for one name with the address of the first healthy PoP, with a TTL;
marking a PoP unhealthy changes the answer at once, but resolvers that cached the old answer
keep handing it out until their TTL runs out: the DNS failover path the anycast experiment
simulates, here on real packets (loopback only).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from dnslib import QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer


@dataclass
class FailoverAuthority(BaseResolver):  # type: ignore[misc]  # dnslib is untyped
    name: str
    pops: list[tuple[str, str]]  # (PoP name, IPv4 address), in order of preference
    ttl: int = 30
    down: set[str] = field(default_factory=set)
    queries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set_healthy(self, pop: str, healthy: bool) -> None:
        with self._lock:
            (self.down.discard if healthy else self.down.add)(pop)

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        with self._lock:
            self.queries += 1
            live = [ip for pop, ip in self.pops if pop not in self.down]
        if qname != self.name.rstrip(".").lower():
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.A and live:
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(live[0]), ttl=self.ttl))
        elif not live:
            reply.header.rcode = RCODE.SERVFAIL
        return reply


class AuthorityServer:
    """``with AuthorityServer(authority) as port``: serve on 127.0.0.1 (UDP) on a free port."""

    def __init__(self, authority: FailoverAuthority) -> None:
        quiet = DNSLogger(log="-recv,-send,-request,-reply,-truncated,-error,-data", prefix=False)
        self.server = DNSServer(authority, address="127.0.0.1", port=0, logger=quiet)

    def __enter__(self) -> int:
        self.server.start_thread()
        return int(self.server.server.server_address[1])

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        self.server.server.server_close()
