"""Review rules from the later chapters: failover at the edge, service identity, the log's
delivery guarantees, LLM serving and hot keys (codex 3.2, 7.1, 7.2, 8.2, 9.4, 10.2).

Each rule warns about a choice whose cost an archlab experiment measures: clients stuck on a
dead region for a DNS TTL and beyond (3.2), services that trust the network instead of a
workload identity (9.4), "exactly once" without an idempotent producer (7.1), a work queue
whose poison messages have nowhere to go (7.2), static batching and contiguous KV caches in
LLM serving (8.2), and a hot key read without request coalescing (10.2).
"""

from __future__ import annotations

from collections.abc import Iterator

from archlab.design import units
from archlab.design.estimate import Estimate
from archlab.design.model import NETWORK_TRUST, Design
from archlab.design.rules.base import Hit, rule

#: Resolvers and clients honour a TTL at best: a failover by DNS takes at least the TTL, and
#: a minute is where DNS-based failover services put their floor.
LONG_DNS_TTL_S = 60.0


@rule(
    id="network.dns_failover_long_ttl",
    title="Regional failover by DNS with a long TTL",
    section="3.2",
    severity="warning",
    why="""When a region fails and DNS points clients elsewhere, every resolver and client
    that cached the old answer keeps sending traffic to the dead region until its copy
    expires: the TTL at best, and longer where resolvers or application caches ignore it.
    Anycast moves traffic as soon as routers withdraw the route, in the seconds to minutes
    BGP takes to converge, without waiting for caches.""",
    alternative="""Anycast addresses for the entry points, or a DNS TTL of a minute or less
    with health-checked answers, and clients that retry another address on failure.""",
    measured_by=("net.anycast_vs_dns",),
)
def dns_failover_long_ttl(design: Design, est: Estimate) -> Iterator[Hit]:
    regions = design.regions
    if regions.count > 1 and regions.failover == "dns" and regions.dns_ttl_s > LONG_DNS_TTL_S:
        ttl, floor = units.format_duration(regions.dns_ttl_s), units.format_duration(LONG_DNS_TTL_S)
        yield Hit(regions.path, f"{regions.count} regions fail over by DNS, TTL {ttl} (> {floor})")


@rule(
    id="security.service_calls_trust_the_network",
    title="Service-to-service calls authorised by network location",
    section="9.4",
    severity="warning",
    why="""A service that accepts any caller inside the network trusts every compromised or
    misrouted workload there: nothing says who is calling, so nothing can be refused. Zero
    trust gives each workload a short-lived identity (an X.509 SVID) and checks it on every
    call over mutual TLS, with an allow-list per service.""",
    alternative="""Mutual TLS between services with workload identities (SPIFFE IDs) and a
    per-service allow-list, or signed tokens checked by each callee.""",
    measured_by=("security.mtls_identity",),
)
def service_calls_trust_the_network(design: Design, est: Estimate) -> Iterator[Hit]:
    for service in design.services:
        if service.dependencies and service.identity in NETWORK_TRUST:
            yield Hit(
                service.path,
                f"{service.name} calls {', '.join(service.dependencies)} with identity "
                f"{service.identity}",
            )


@rule(
    id="streaming.exactly_once_without_idempotence",
    title="Exactly-once delivery promised without an idempotent producer",
    section="7.1",
    severity="error",
    why="""A producer that retries after a timeout cannot tell whether the first attempt was
    written: without producer ids and sequence numbers the broker appends the retry again, so
    consumers see duplicates, and retries of reordered batches leave gaps. Exactly-once in a
    log needs the idempotent producer, and transactions for read-process-write.""",
    alternative="""Enable the idempotent producer (enable.idempotence) and, for
    read-process-write, transactions with read_committed consumers; or promise
    at-least-once and deduplicate downstream by key.""",
    measured_by=("streaming.exactly_once",),
)
def exactly_once_without_idempotence(design: Design, est: Estimate) -> Iterator[Hit]:
    for queue in design.queues:
        if queue.delivery == "exactly-once" and not queue.idempotent_producer:
            yield Hit(queue.path, f"{queue.name}: exactly-once delivery, idempotent_producer off")


@rule(
    id="streaming.queue_without_dead_letter",
    title="A work queue without a dead-letter path",
    section="7.2",
    severity="warning",
    why="""A message that fails every time it is delivered (a poison message) is requeued
    forever when rejected with requeue, blocking its consumers and taking a prefetch slot on
    each retry; rejected without requeue and with nowhere to go, it is lost. A dead-letter
    exchange receives rejected, expired and overflowing messages so they can be inspected
    and replayed.""",
    alternative="""Declare a dead-letter exchange (x-dead-letter-exchange) and a bounded
    retry count for each work queue, and watch the dead-letter queue.""",
    measured_by=("streaming.poison_messages",),
)
def queue_without_dead_letter(design: Design, est: Estimate) -> Iterator[Hit]:
    for queue in design.queues:
        if queue.kind == "queue" and not queue.dead_letter:
            yield Hit(queue.path, f"{queue.name}: a work queue with dead_letter off")


@rule(
    id="llm.static_batching",
    title="LLM serving with static batching",
    section="8.2",
    severity="warning",
    why="""With static batching a batch runs until its longest sequence finishes: requests
    that finished early hold their slots idle and new requests wait for the whole batch.
    Continuous (iteration-level) batching admits and retires sequences at every decoding
    step, keeping the batch full and cutting queueing delay.""",
    alternative="""Continuous batching (vLLM, TGI, TensorRT-LLM all schedule per iteration).""",
    measured_by=("llm.continuous_batching",),
)
def static_batching(design: Design, est: Estimate) -> Iterator[Hit]:
    for server in design.model_servers:
        if server.batching == "static":
            yield Hit(server.path, f"{server.name}: static batching")


@rule(
    id="llm.contiguous_kv_cache",
    title="A KV cache reserved contiguously per sequence",
    section="8.2",
    severity="warning",
    why="""Reserving each sequence's KV cache for its maximum length up front leaves most of
    the reserved memory empty (the vLLM paper measured 20-38% of it holding tokens), which
    caps how many sequences fit in a batch. Paging the cache in fixed-size blocks wastes
    under 4% and lets sequences share prefix blocks.""",
    alternative="""A paged KV cache (PagedAttention) with block tables and copy-on-write
    sharing of common prefixes.""",
    measured_by=("llm.kv_waste",),
)
def contiguous_kv_cache(design: Design, est: Estimate) -> Iterator[Hit]:
    for server in design.model_servers:
        if server.kv_cache == "contiguous":
            yield Hit(server.path, f"{server.name}: contiguous KV cache reservations")


@rule(
    id="cases.hot_key_without_coalescing",
    title="Hot keys read without request coalescing",
    section="10.2",
    severity="warning",
    why="""When thousands of clients read the same key at once (a popular channel, a
    trending item), each read becomes its own query and the partition holding the key
    saturates while the rest of the cluster idles. Coalescing concurrent reads of one key
    into a single query, with keys routed consistently to the service instance that
    coalesces them, turns thousands of queries into one.""",
    alternative="""A data service in front of the store that coalesces in-flight reads per
    key, with consistent-hash routing of keys to its instances (Discord's data services).""",
    measured_by=("cases.discord_coalescing",),
)
def hot_key_without_coalescing(design: Design, est: Estimate) -> Iterator[Hit]:
    for db in design.databases:
        if db.hot_keys and not db.coalescing:
            yield Hit(db.path, f"{db.name}: hot keys, coalescing off")
