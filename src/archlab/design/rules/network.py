"""Review rules about traffic at the edge (codex 3.1, 3.4).

An L7 balancer in front of raw TCP or UDP traffic pays for parsing it cannot use (3.1), and
TLS 1.3 0-RTT data accepted by an endpoint that is not idempotent can be replayed (3.4).
"""

from __future__ import annotations

from collections.abc import Iterator

from archlab.design.estimate import Estimate
from archlab.design.model import RAW_PROTOCOLS, Design
from archlab.design.rules.base import Hit, rule


@rule(
    id="network.l7_for_raw_tcp",
    title="An L7 load balancer for raw TCP throughput",
    section="3.1",
    severity="warning",
    why="""A layer 7 balancer terminates the client's TCP connection, buffers and parses each
    request, and opens a second connection to the backend: that buys routing on paths,
    headers and cookies, paid for in latency and CPU per request. Raw TCP or UDP traffic
    offers nothing at layer 7 to route on, so the cost buys nothing. A layer 4 balancer
    forwards packets by address and port (NAT or direct server return) without inspecting
    payloads, keeping one connection end to end at much higher throughput.""",
    alternative="""A layer 4 balancer for this ingress; keep layer 7 where requests must be
    routed by content (microservice routing by URL path).""",
    measured_by=("net.l4_vs_l7",),
)
def l7_for_raw_tcp(design: Design, est: Estimate) -> Iterator[Hit]:
    for lb in design.load_balancers:
        if lb.layer == 7 and lb.protocol in RAW_PROTOCOLS:
            yield Hit(lb.path, f"{lb.name}: layer 7 balancer for {lb.protocol} traffic")


@rule(
    id="tls.zero_rtt_not_idempotent",
    title="TLS 0-RTT accepted on a non-idempotent endpoint",
    section="3.4",
    severity="error",
    why="""TLS 1.3 0-RTT lets a returning client send request data in its first flight,
    saving a round trip, but that early data is not protected against replay: whoever
    captures the packet can send it again and the server acts on it again. On a request that
    changes state every replay is another transaction, such as a second charge or a
    duplicate order.""",
    alternative="""Accept 0-RTT only on idempotent requests such as GETs; elsewhere refuse
    early data (the server answers 425 Too Early and the client retries after the
    handshake), or make the operation idempotent with a key the server deduplicates.""",
    measured_by=("security.zero_rtt_replay",),
)
def zero_rtt_not_idempotent(design: Design, est: Estimate) -> Iterator[Hit]:
    for ep in design.endpoints:
        if not ep.zero_rtt or ep.idempotent:
            continue
        why = "declared idempotent: false" if ep.idempotent_given else f"{ep.method} is not safe"
        route = f" {ep.route}" if ep.route else ""
        yield Hit(
            ep.path,
            f"{ep.name} ({ep.method}{route}) accepts 0-RTT early data but is not idempotent "
            f"({why})",
        )
