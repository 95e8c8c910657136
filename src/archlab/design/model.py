"""A system design, described declaratively and laid out along PEDALS (codex 2).

PEDALS (Process, Estimation, Design, Architecture, List, Scale) orders a design discussion:
clarify requirements, estimate, design the API and data, sketch the architecture, list the
components, then scale and operate it. A design file follows the same order, and this module
holds what it describes once validated (:mod:`archlab.design.parse` reads the file):

* ``requirements`` (P): the numbers :mod:`archlab.design.estimate` needs, plus qualitative
  requirements (every error trace must be kept; traffic is bursty).
* ``estimation`` (E): optional hand estimates, which the review checks against its own.
* ``design`` (D): the API's endpoints (method, idempotency, TLS 0-RTT, priority class), the
  ID scheme and, for collaborative editors, the conflict-resolution algorithm.
* ``architecture`` (A): regions and cross-service transactions (2PC or saga).
* ``components`` (L): load balancers, caches, databases, queues, object stores, services,
  model servers.
* ``scale`` (S): rate limits, load shedding and priority classes, trace sampling.

Every element keeps the dotted path of the field it came from, so a review finding can say
exactly which part of the file triggered it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archlab.design.requirements import Requirements

ID_SCHEMES = ("uuidv4", "uuidv7", "ulid", "ksuid", "snowflake", "sequence", "random", "hash")
#: Schemes whose consecutive values land at random places in a sorted index.
RANDOM_ID_SCHEMES = frozenset({"uuidv4", "random", "hash"})
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "RPC", "STREAM")
#: Methods that change nothing on the server (RFC 9110 "safe"), idempotent by default here.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ENGINES = ("btree", "lsm")
COMPACTIONS = ("leveled", "tiered", "universal", "fifo")
CONSISTENCIES = (
    "strict_serializable",
    "serializable",
    "linearizable",
    "snapshot",
    "strong",
    "read_committed",
    "causal",
    "eventual",
)
READ_PATTERNS = ("point", "range", "scan", "mixed")
LB_PROTOCOLS = ("http", "https", "grpc", "websocket", "tcp", "udp", "tls")
RAW_PROTOCOLS = frozenset({"tcp", "udp", "tls"})
CACHE_KINDS = ("redis", "memcached", "in_process", "cdn")
IN_MEMORY_CACHES = frozenset({"redis", "memcached", "in_process"})
QUEUE_KINDS = ("log", "queue")
OBJECT_STORE_KINDS = ("s3", "gcs", "azure_blob", "hdfs", "other")
REGION_MODES = ("single", "active-passive", "active-active")
TXN_PROTOCOLS = ("2pc", "saga", "local")
THREAD_POOLS = ("shared", "per_dependency")
SAMPLING = ("head", "tail", "all", "none")
COLLAB_ALGORITHMS = ("none", "ot", "crdt")
FAILOVERS = ("none", "dns", "anycast")
SERVICE_IDENTITIES = ("unspecified", "mtls", "token", "network", "none")
#: Identities that rest on where a request comes from, not on who sends it.
NETWORK_TRUST = frozenset({"network", "none"})
DELIVERIES = ("at-most-once", "at-least-once", "exactly-once")
BATCHING = ("static", "continuous")
KV_CACHES = ("contiguous", "paged")


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    route: str
    idempotent: bool
    zero_rtt: bool
    path: str
    priority: str | None = None
    idempotent_given: bool = False


@dataclass(frozen=True)
class Collaboration:
    algorithm: str = "none"
    offline_first: bool = False
    path: str = "design.collaboration"


@dataclass(frozen=True)
class Regions:
    count: int = 1
    mode: str = "single"
    path: str = "architecture.regions"
    failover: str = "none"  # how clients are moved off a failed region: dns | anycast
    dns_ttl_s: float = 300.0


@dataclass(frozen=True)
class Transaction:
    name: str
    services: tuple[str, ...]
    protocol: str
    path: str


@dataclass(frozen=True)
class LoadBalancer:
    name: str
    layer: int
    protocol: str
    path: str


@dataclass(frozen=True)
class Cache:
    name: str
    kind: str
    path: str

    @property
    def in_memory(self) -> bool:
        return self.kind in IN_MEMORY_CACHES


@dataclass(frozen=True)
class Database:
    name: str
    engine: str
    path: str
    product: str | None = None
    mvcc: bool = False
    shards: int = 1
    replicas: int = 1
    consistency: str = "strong"
    id_scheme: str | None = None
    bloom_filters: bool = True
    compaction: str | None = None
    read_pattern: str = "point"
    longest_transaction_s: float | None = None
    holds_money: bool = False
    share_of_reads: float = 1.0
    share_of_writes: float = 1.0
    hot_keys: bool = False  # a few keys take much of the reads (a popular channel, 10.2)
    coalescing: bool = False  # concurrent reads of one key share one query

    @property
    def sharded(self) -> bool:
        return self.shards > 1


@dataclass(frozen=True)
class Queue:
    name: str
    kind: str
    path: str
    product: str | None = None
    delivery: str = "at-least-once"
    idempotent_producer: bool = False
    dead_letter: bool = False


@dataclass(frozen=True)
class ObjectStore:
    name: str
    kind: str
    path: str


@dataclass(frozen=True)
class Service:
    name: str
    dependencies: tuple[str, ...]
    thread_pool: str
    path: str
    thread_pool_given: bool = True
    identity: str = "unspecified"  # how callees know who calls: mtls | token | network | none


@dataclass(frozen=True)
class ModelServer:
    """An LLM inference server (codex 8.2)."""

    name: str
    batching: str
    kv_cache: str
    path: str


@dataclass(frozen=True)
class RateLimit:
    name: str
    scope: str
    limit_per_s: float
    path: str


@dataclass(frozen=True)
class Tracing:
    sampling: str = "none"
    rate: float = 0.0
    path: str = "scale.tracing"


@dataclass(frozen=True)
class Design:
    """A validated design; defaults describe the simplest system (one region, nothing else)."""

    name: str
    requirements: Requirements
    description: str = ""
    keep_every_error_trace: bool = False
    bursty: bool = False
    hand_estimates: dict[str, float] = field(default_factory=dict)
    endpoints: tuple[Endpoint, ...] = ()
    id_scheme: str | None = None
    collaboration: Collaboration = field(default_factory=Collaboration)
    regions: Regions = field(default_factory=Regions)
    transactions: tuple[Transaction, ...] = ()
    load_balancers: tuple[LoadBalancer, ...] = ()
    caches: tuple[Cache, ...] = ()
    databases: tuple[Database, ...] = ()
    queues: tuple[Queue, ...] = ()
    object_stores: tuple[ObjectStore, ...] = ()
    services: tuple[Service, ...] = ()
    model_servers: tuple[ModelServer, ...] = ()
    rate_limits: tuple[RateLimit, ...] = ()
    load_shedding: bool = False
    priority_classes: tuple[str, ...] = ()
    tracing: Tracing = field(default_factory=Tracing)
    source: str = "<design>"
    #: Line in the source file of each field, by dotted path (empty when built in code).
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, path: str) -> int | None:
        """The line of the field at ``path``, or of its closest enclosing field."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path.rpartition(".")[0] if "." in path else ""
        return None

    def id_scheme_of(self, db: Database) -> str | None:
        return db.id_scheme or self.id_scheme

    @property
    def in_memory_caches(self) -> tuple[Cache, ...]:
        return tuple(c for c in self.caches if c.in_memory)
