"""Reading a design YAML file into a :class:`~archlab.design.model.Design`, strictly.

Every section and field is checked: its type, its allowed values, the units of its numbers,
references between fields (an endpoint's priority class must be declared under
``scale.priority_classes``; LSM-only settings on a B-tree are refused), and duplicate
component names. The first problem raises
:class:`~archlab.design.schema.DesignSchemaError` naming the file, line, field path, what was
expected and what was found. The field names here are the schema; ``archlab design new``
writes a commented starter with every one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from archlab.design import model as m, units
from archlab.design.requirements import FIELDS, Requirements, from_mapping
from archlab.design.schema import DesignSchemaError, Section, describe
from archlab.design.yamlsource import Lines, dotted, load
from archlab.errors import ConfigError, InputFormatError

TOP_LEVEL = (
    "name",
    "description",
    "requirements",
    "estimation",
    "design",
    "architecture",
    "components",
    "scale",
)
QUALITATIVE_REQUIREMENTS = ("keep_every_error_trace", "bursty")
REQUIREMENT_KEYS = (*(f.name for f in FIELDS), *QUALITATIVE_REQUIREMENTS)


def _bytes_rate(value: units.Number, what: str) -> float:
    text = value.strip().removesuffix("/s") if isinstance(value, str) else value
    return units.parse_size(text, what)


def _count(value: units.Number, what: str) -> float:
    return units.parse_count(value, what)


#: Hand estimates a design may state under ``estimation``, with how each is read.
HAND_ESTIMATES: dict[str, Callable[[units.Number, str], float]] = {
    **{
        f"{kind}_qps_{stat}": units.parse_rate
        for kind in ("read", "write")
        for stat in ("avg", "peak")
    },
    "qps_avg": units.parse_rate,
    "qps_peak": units.parse_rate,
    **{f"{d}_bytes_per_s_{s}": _bytes_rate for d in ("ingress", "egress") for s in ("avg", "peak")},
    **{
        name: units.parse_size
        for name in (
            "ingest_bytes_per_day",
            "storage_bytes_per_day",
            "storage_bytes_per_year",
            "dataset_bytes",
            "storage_bytes_total",
            "read_bytes_per_day",
            "cache_bytes",
        )
    },
    "servers_needed": _count,
    "downtime_s_per_year": units.parse_duration,
}

#: Every section of a design file and the fields it may hold ("[]": each item of a list).
SCHEMA: dict[str, tuple[str, ...]] = {
    "": TOP_LEVEL,
    "requirements": REQUIREMENT_KEYS,
    "estimation": tuple(HAND_ESTIMATES),
    "design": ("id_scheme", "endpoints", "collaboration"),
    "design.endpoints[]": ("name", "method", "route", "idempotent", "zero_rtt", "priority"),
    "design.collaboration": ("algorithm", "offline_first"),
    "architecture": ("regions", "transactions"),
    "architecture.regions": ("count", "mode", "failover", "dns_ttl"),
    "architecture.transactions[]": ("name", "services", "protocol"),
    "components": (
        "load_balancers", "caches", "databases", "queues", "object_stores", "services",
        "model_servers",
    ),
    "components.load_balancers[]": ("name", "layer", "protocol"),
    "components.caches[]": ("name", "kind"),
    "components.databases[]": (
        "name", "engine", "product", "mvcc", "shards", "replicas", "consistency", "id_scheme",
        "bloom_filters", "compaction", "read_pattern", "longest_transaction", "holds_money",
        "share_of_reads", "share_of_writes", "hot_keys", "coalescing",
    ),
    "components.queues[]": (
        "name", "kind", "product", "delivery", "idempotent_producer", "dead_letter",
    ),
    "components.object_stores[]": ("name", "kind"),
    "components.services[]": ("name", "dependencies", "thread_pool", "identity"),
    "components.model_servers[]": ("name", "batching", "kv_cache"),
    "scale": ("rate_limits", "load_shedding", "priority_classes", "tracing"),
    "scale.rate_limits[]": ("name", "scope", "limit"),
    "scale.tracing": ("sampling", "rate"),
}  # fmt: skip
LSM_ONLY = ("bloom_filters", "compaction")

#: What well-known products are, when a database names one and leaves ``engine`` out:
#: (engine, PostgreSQL-style MVCC with vacuum, default compaction).
PRODUCTS: dict[str, tuple[str, bool, str | None]] = {
    "postgres": ("btree", True, None),
    "postgresql": ("btree", True, None),
    "mysql": ("btree", False, None),
    "mariadb": ("btree", False, None),
    "sqlite": ("btree", False, None),
    "mongodb": ("btree", False, None),
    "cassandra": ("lsm", False, "tiered"),
    "scylladb": ("lsm", False, "tiered"),
    "hbase": ("lsm", False, "tiered"),
    "bigtable": ("lsm", False, "tiered"),
    "rocksdb": ("lsm", False, "leveled"),
    "leveldb": ("lsm", False, "leveled"),
    "cockroachdb": ("lsm", False, "leveled"),
}


def load_design(path: Path) -> m.Design:
    """Read and validate the design file at ``path``."""
    data, lines = load(path)
    return parse_design(data, lines)


def parse_design(data: Any, lines: Lines) -> m.Design:
    """Validate parsed YAML ``data`` (with its ``lines``) into a Design."""
    if data is None:
        raise DesignSchemaError(lines, (), "a design (a mapping with name and requirements)",
                                "an empty file")  # fmt: skip
    top = Section(data, (), lines, SCHEMA[""])
    if not top.has("requirements"):
        raise top.fail("requirements", "the requirements section (at least dau)", None)
    requirements, flags = _requirements(top.section("requirements", SCHEMA["requirements"]))
    design = top.section("design", SCHEMA["design"])
    arch = top.section("architecture", SCHEMA["architecture"])
    comps = top.section("components", SCHEMA["components"])
    scale = top.section("scale", SCHEMA["scale"])
    priority_classes = tuple(scale.strings("priority_classes"))
    return m.Design(
        name=top.string("name", required=True),
        description=top.string("description", "") if top.has("description") else "",
        requirements=requirements,
        keep_every_error_trace=flags["keep_every_error_trace"],
        bursty=flags["bursty"],
        hand_estimates=_hand_estimates(top.section("estimation", SCHEMA["estimation"])),
        endpoints=tuple(_endpoints(design, priority_classes)),
        id_scheme=design.optional_choice("id_scheme", m.ID_SCHEMES),
        collaboration=_collaboration(design.section("collaboration",
                                                    SCHEMA["design.collaboration"])),
        regions=_regions(arch.section("regions", SCHEMA["architecture.regions"])),
        transactions=tuple(_transactions(arch)),
        load_balancers=tuple(_load_balancers(comps)),
        caches=tuple(_named(comps, "caches", _cache)),
        databases=tuple(_named(comps, "databases", _database)),
        queues=tuple(_named(comps, "queues", _queue)),
        object_stores=tuple(_named(comps, "object_stores", _object_store)),
        services=tuple(_named(comps, "services", _service)),
        model_servers=tuple(_named(comps, "model_servers", _model_server)),
        rate_limits=tuple(_named(scale, "rate_limits", _rate_limit)),
        load_shedding=scale.boolean("load_shedding", False),
        priority_classes=priority_classes,
        tracing=_tracing(scale.section("tracing", SCHEMA["scale.tracing"])),
        source=lines.source,
        lines={dotted(path): line for path, line in lines.by_path.items()},
    )  # fmt: skip


def _requirements(section: Section) -> tuple[Requirements, dict[str, bool]]:
    def where(key: str) -> str:
        return dotted(section.at(key))

    try:
        requirements = from_mapping(
            section.data, where=where, ignore=frozenset(QUALITATIVE_REQUIREMENTS)
        )
    except ConfigError as exc:
        bad = next((k for k in section.data if str(exc).startswith(where(str(k)))), None)
        line = section.lines.line(section.at(str(bad))) if bad is not None else None
        raise InputFormatError(section.lines.source, str(exc), line) from None
    if "dau" not in requirements.given:
        raise section.fail("dau", "the number of daily active users (e.g. 10M)", None)
    flags = {key: section.boolean(key, False) for key in QUALITATIVE_REQUIREMENTS}
    return requirements, flags


def _hand_estimates(section: Section) -> dict[str, float]:
    found: dict[str, float] = {}
    for key, parse in HAND_ESTIMATES.items():
        value = section.quantity(key, parse, None)
        if value is not None:
            found[key] = value
    return found


def _named(parent: Section, key: str, build: Callable[[Section, str, str], Any]) -> list[Any]:
    """Build each item of the list ``key``; names must be present and distinct."""
    built: list[Any] = []
    seen: dict[str, str] = {}
    allowed = SCHEMA[f"{dotted(parent.path)}.{key}[]"]
    for item in parent.items(key, allowed):
        name = item.string("name", required=True)
        if name in seen:
            raise DesignSchemaError(
                item.lines, item.at("name"), f"a name not used before (also at {seen[name]})",
                repr(name),
            )  # fmt: skip
        seen[name] = dotted(item.path)
        built.append(build(item, name, dotted(item.path)))
    return built


def _endpoints(design: Section, classes: tuple[str, ...]) -> list[m.Endpoint]:
    def build(item: Section, name: str, path: str) -> m.Endpoint:
        raw_method = item.raw("method")
        method = str(raw_method).upper() if isinstance(raw_method, str) else raw_method
        if method not in m.METHODS:
            raise item.fail("method", f"one of {', '.join(m.METHODS)}", raw_method)
        priority = item.optional_string("priority")
        if priority is not None and priority not in classes:
            declared = ", ".join(classes) if classes else "none are declared"
            raise item.fail(
                "priority", f"a class declared in scale.priority_classes ({declared})", priority
            )
        return m.Endpoint(
            name=name,
            method=method,
            route=item.string("route", ""),
            idempotent=item.boolean("idempotent", method in m.SAFE_METHODS),
            zero_rtt=item.boolean("zero_rtt", False),
            path=path,
            priority=priority,
            idempotent_given=item.has("idempotent"),
        )

    return _named(design, "endpoints", build)


def _collaboration(section: Section) -> m.Collaboration:
    return m.Collaboration(
        algorithm=section.choice("algorithm", m.COLLAB_ALGORITHMS, "none"),
        offline_first=section.boolean("offline_first", False),
        path=dotted(section.path),
    )


def _regions(section: Section) -> m.Regions:
    count = section.integer("count", 1, minimum=1)
    mode = section.choice("mode", m.REGION_MODES, "single" if count == 1 else "active-passive")
    if (mode == "single") != (count == 1):
        expected = "mode single" if count == 1 else "mode active-passive or active-active"
        raise section.fail("mode", f"{expected} for {count} region(s)", mode)
    failover = section.choice("failover", m.FAILOVERS, "none")
    ttl = section.quantity("dns_ttl", units.parse_duration, 300.0)
    if section.has("dns_ttl") and failover != "dns":
        raise section.fail("dns_ttl", "no dns_ttl unless failover is dns", section.raw("dns_ttl"))
    return m.Regions(count=count, mode=mode, path=dotted(section.path), failover=failover,
                     dns_ttl_s=ttl)  # fmt: skip


def _transactions(arch: Section) -> list[m.Transaction]:
    def build(item: Section, name: str, path: str) -> m.Transaction:
        return m.Transaction(
            name=name,
            services=tuple(item.strings("services")),
            protocol=item.choice("protocol", m.TXN_PROTOCOLS),
            path=path,
        )

    return _named(arch, "transactions", build)


def _load_balancers(comps: Section) -> list[m.LoadBalancer]:
    def build(item: Section, name: str, path: str) -> m.LoadBalancer:
        layer = item.raw("layer")
        if isinstance(layer, str) and layer.upper() in {"L4", "L7"}:
            layer = int(layer[1])
        if layer not in (4, 7) or isinstance(layer, bool):
            raise item.fail("layer", "4 or 7 (or L4, L7)", item.raw("layer"))
        return m.LoadBalancer(
            name=name, layer=int(layer), protocol=item.choice("protocol", m.LB_PROTOCOLS),
            path=path,
        )  # fmt: skip

    return _named(comps, "load_balancers", build)


def _cache(item: Section, name: str, path: str) -> m.Cache:
    return m.Cache(name=name, kind=item.choice("kind", m.CACHE_KINDS), path=path)


def _database(item: Section, name: str, path: str) -> m.Database:
    product = item.optional_string("product")
    known = PRODUCTS.get(product.lower()) if product else None
    explicit = known is None or item.has("engine")  # an explicit engine wins over the product
    engine = item.choice("engine", m.ENGINES) if explicit or known is None else known[0]
    if engine == "btree":
        for key in LSM_ONLY:
            if item.has(key):
                raise item.fail(key, "no such setting on a btree engine (LSM only)",
                                item.raw(key))  # fmt: skip
    default_compaction = (known[2] if known and known[0] == "lsm" else None) or "leveled"
    return m.Database(
        name=name,
        engine=engine,
        path=path,
        product=product,
        mvcc=item.boolean("mvcc", bool(known and known[1])),
        shards=item.integer("shards", 1, minimum=1),
        replicas=item.integer("replicas", 1, minimum=1),
        consistency=item.choice("consistency", m.CONSISTENCIES, "strong"),
        id_scheme=item.optional_choice("id_scheme", m.ID_SCHEMES),
        bloom_filters=item.boolean("bloom_filters", True),
        compaction=(
            item.choice("compaction", m.COMPACTIONS, default_compaction)
            if engine == "lsm"
            else None
        ),
        read_pattern=item.choice("read_pattern", m.READ_PATTERNS, "point"),
        longest_transaction_s=item.quantity("longest_transaction", units.parse_duration, None),
        holds_money=item.boolean("holds_money", False),
        share_of_reads=item.quantity("share_of_reads", units.parse_fraction, 1.0),
        share_of_writes=item.quantity("share_of_writes", units.parse_fraction, 1.0),
        hot_keys=item.boolean("hot_keys", False),
        coalescing=item.boolean("coalescing", False),
    )


def _queue(item: Section, name: str, path: str) -> m.Queue:
    return m.Queue(
        name=name, kind=item.choice("kind", m.QUEUE_KINDS), path=path,
        product=item.optional_string("product"),
        delivery=item.choice("delivery", m.DELIVERIES, "at-least-once"),
        idempotent_producer=item.boolean("idempotent_producer", False),
        dead_letter=item.boolean("dead_letter", False),
    )  # fmt: skip


def _model_server(item: Section, name: str, path: str) -> m.ModelServer:
    return m.ModelServer(
        name=name, batching=item.choice("batching", m.BATCHING, "continuous"),
        kv_cache=item.choice("kv_cache", m.KV_CACHES, "paged"), path=path,
    )  # fmt: skip


def _object_store(item: Section, name: str, path: str) -> m.ObjectStore:
    return m.ObjectStore(name=name, kind=item.choice("kind", m.OBJECT_STORE_KINDS), path=path)


def _service(item: Section, name: str, path: str) -> m.Service:
    return m.Service(
        name=name,
        dependencies=tuple(item.strings("dependencies")),
        thread_pool=item.choice("thread_pool", m.THREAD_POOLS, "shared"),
        path=path,
        thread_pool_given=item.has("thread_pool"),
        identity=item.choice("identity", m.SERVICE_IDENTITIES, "unspecified"),
    )


def _rate_limit(item: Section, name: str, path: str) -> m.RateLimit:
    limit = item.quantity("limit", units.parse_rate, None)
    if limit is None:
        raise item.fail("limit", "a rate such as 100/s", None)
    return m.RateLimit(name=name, scope=item.string("scope", "global"), limit_per_s=limit,
                       path=path)  # fmt: skip


def _tracing(section: Section) -> m.Tracing:
    sampling = section.choice("sampling", m.SAMPLING, "none")
    default_rate = {"all": 1.0, "none": 0.0, "tail": 1.0}.get(sampling, 0.01)
    rate = section.quantity("rate", units.parse_fraction, default_rate)
    if sampling in {"all", "none"} and section.has("rate"):
        raise section.fail("rate", f"no rate with sampling {sampling}", section.raw("rate"))
    return m.Tracing(sampling=sampling, rate=rate, path=dotted(section.path))


__all__ = ["REQUIREMENT_KEYS", "SCHEMA", "describe", "load_design", "parse_design"]
