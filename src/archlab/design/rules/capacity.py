"""Review rules from the codex's Table 1 (section 2.2) and from estimation itself.

Each rule compares the design's components with what the estimate of its own requirements
implies: five nines need more than one region; more than 10k QPS on a database needs shards
or a cache; a sub-100 ms target needs an in-memory cache; more than 10 TB does not belong on
one unsharded database. Two more keep the review honest in the other direction: shards
under 1k QPS and 10 TB are complexity Table 1 says is not needed, and a hand estimate more
than twice off the arithmetic is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from archlab.design import table1, units
from archlab.design.estimate import Estimate
from archlab.design.model import Design
from archlab.design.rules.base import Hit, db_dataset_bytes, db_read_qps, db_write_qps, rule

HAND_ESTIMATE_TOLERANCE = 2.0


@rule(
    id="table1.five_nines_single_region",
    title="Five nines without multi-region active-active",
    section="2.2",
    severity="error",
    why="""Table 1 ties 99.999% availability to a multi-region active-active deployment. Five
    nines allow about 5.3 minutes of downtime a year, and a region fails as a unit (power,
    network, a bad deploy). Waiting for it to recover, or failing over to a passive standby
    (detecting the failure, DNS TTLs expiring, warming caches), takes longer than the whole
    yearly budget. The price of active-active is running every region with spare capacity and
    replicating data across regions.""",
    alternative="""Serve live traffic from at least two regions, each able to absorb the
    other's load, with data replicated between them and a consistency model chosen for
    cross-region writes; or agree to a lower target such as 99.99% (about 53 minutes a
    year).""",
    measured_by=("design.regime_map",),
)
def five_nines_single_region(design: Design, est: Estimate) -> Iterator[Hit]:
    req = design.requirements
    regions = design.regions
    if not table1.five_nines(req.availability) or (
        regions.count >= 2 and regions.mode == "active-active"
    ):
        return
    budget = units.format_duration(est.downtime_s_per_year)
    shape = (
        "a single region"
        if regions.count == 1
        else f"{regions.count} regions in {regions.mode} mode (a failover per outage)"
    )
    yield Hit(
        regions.path,
        f"availability target {units.format_fraction(req.availability)} ({budget} of "
        f"downtime a year) served from {shape}",
    )


@rule(
    id="table1.high_qps_without_shards_or_cache",
    title="More than 10k QPS on one unsharded database with no cache to absorb it",
    section="2.2",
    severity="error",
    why="""Table 1: above about 10k QPS a single database instance has no headroom left, so
    the load must be split across shards or mostly absorbed by a caching layer before it
    reaches the database. A cache only helps with reads: writes must reach the database
    whatever sits in front of it.""",
    alternative="""Shard the database on a key that spreads load evenly, or put a cache in
    front of it for reads (Redis, Memcached) with the hit ratio the numbers require.""",
    measured_by=("design.regime_map",),
)
def high_qps_without_shards_or_cache(design: Design, est: Estimate) -> Iterator[Hit]:
    for db in design.databases:
        reads, writes = db_read_qps(est, db), db_write_qps(est, db)
        total = reads + writes
        if db.sharded or total <= table1.SHARDING_QPS:
            continue
        load = (
            f"{db.name}: about {units.format_count(total)} QPS at peak "
            f"({units.format_count(reads)} reads/s, {units.format_count(writes)} writes/s), "
            f"unsharded"
        )
        if writes > table1.SHARDING_QPS:
            yield Hit(
                db.path,
                f"{load}; writes alone exceed 10k/s, which no cache absorbs",
                alternative=f"Shard {db.name} (at least "
                f"{math.ceil(writes / table1.SHARDING_QPS)} shards for the writes alone) on a "
                "key that spreads writes evenly.",
            )
        elif not design.caches:
            hit_ratio = 1 - (table1.SHARDING_QPS - writes) / reads
            yield Hit(
                db.path,
                f"{load}, and the design has no cache",
                alternative=f"Cache reads in front of {db.name} with a hit ratio of at least "
                f"{units.format_fraction(round(hit_ratio, 4))} to bring it under 10k QPS, "
                "or shard it.",
            )


@rule(
    id="table1.low_latency_without_memory_cache",
    title="Latency target under 100 ms with no in-memory cache",
    section="2.2",
    severity="warning",
    why="""Table 1 pairs a latency target under 100 ms with in-memory caching
    (Redis/Memcached): after network hops there is little time left for database queries
    that may go to disk, so the hot set is served from memory. The cost is keeping the cache
    consistent with the database (invalidation, expiry) and one more component to run.""",
    alternative="""Add an in-memory cache (Redis, Memcached or in-process) sized for the
    hot set.""",
    measured_by=("design.regime_map",),
)
def low_latency_without_memory_cache(design: Design, est: Estimate) -> Iterator[Hit]:
    req = design.requirements
    if req.latency_ms is None or req.latency_ms >= table1.CACHE_LATENCY_MS:
        return
    if design.in_memory_caches:
        return
    others = f" (only {', '.join(c.kind for c in design.caches)})" if design.caches else ""
    yield Hit(
        "components.caches",
        f"latency target {req.latency_ms:g} ms and no in-memory cache{others}",
        alternative=f"Add an in-memory cache (Redis, Memcached or in-process) for the hot set: "
        f"about {units.format_bytes(est.cache_bytes)} for "
        f"{units.format_fraction(req.cache_fraction)} of a day's reads.",
    )


@rule(
    id="table1.large_data_on_one_database",
    title="More than 10 TB on a single unsharded database",
    section="2.2",
    severity="error",
    why="""Table 1: past about 10 TB data needs sharding or a distributed file system. On one
    unsharded database every replica must hold all of it, so disks and I/O of a single
    machine bound the system, and rebuilding a replica or restoring a backup takes days.
    Replication adds copies, not room.""",
    alternative="""Shard the database, or keep bulk data in a distributed file or object
    store (S3, HDFS) and only metadata in the database.""",
    measured_by=("design.regime_map",),
)
def large_data_on_one_database(design: Design, est: Estimate) -> Iterator[Hit]:
    for db in design.databases:
        held = db_dataset_bytes(est, db)
        if db.sharded or held <= table1.DISTRIBUTED_STORAGE_BYTES:
            continue
        shards = math.ceil(held / table1.DISTRIBUTED_STORAGE_BYTES)
        retention = units.format_duration(design.requirements.retention)
        yield Hit(
            db.path,
            f"{db.name}: unsharded, holds about {units.format_bytes(held)} (one copy, "
            f"{retention} of retention, {units.format_fraction(db.share_of_writes)} of writes)",
            alternative=f"Shard {db.name} into at least {shards} shards of ≤ 10 TB, or move the "
            "bulk to a distributed file or object store (S3, HDFS) and set share_of_writes to "
            "what stays in the database.",
        )


@rule(
    id="table1.premature_sharding",
    title="Shards below Table 1's single-instance thresholds",
    section="2.2",
    severity="info",
    why="""Table 1: under 1k QPS a single database instance with replicas is likely
    sufficient, and under 10 TB the data fits on one. Shards add cross-shard queries and
    transactions, rebalancing and operational load; a senior design adds complexity only
    where the numbers demand it.""",
    alternative="""One primary with replicas, with the shard key chosen and documented for
    when traffic or data approach the thresholds.""",
    measured_by=("design.regime_map",),
)
def premature_sharding(design: Design, est: Estimate) -> Iterator[Hit]:
    for db in design.databases:
        qps = db_read_qps(est, db) + db_write_qps(est, db)
        held = db_dataset_bytes(est, db)
        if (
            db.sharded
            and qps < table1.SINGLE_INSTANCE_QPS
            and held <= table1.DISTRIBUTED_STORAGE_BYTES
        ):
            yield Hit(
                db.path,
                f"{db.name}: {db.shards} shards for {units.format_count(qps)} QPS at peak and "
                f"{units.format_bytes(held)} of data",
            )


@rule(
    id="estimation.hand_estimate_off",
    title="A hand estimate more than 2x off the arithmetic",
    section="2.2",
    severity="warning",
    why="""Estimation is a tool for justifying architectural decisions: whether to shard,
    whether the data fits in memory, what bandwidth the edge needs. A figure off by more
    than a factor of two can put the design in the wrong Table 1 regime.""",
    alternative="""Use the computed figure, or correct the requirement it derives from.""",
    measured_by=("design.regime_map",),
)
def hand_estimate_off(design: Design, est: Estimate) -> Iterator[Hit]:
    computed = est.to_dict()
    for key, stated in design.hand_estimates.items():
        actual = float(computed[key])
        if actual == stated:
            continue
        ratio = math.inf if min(actual, stated) <= 0 else max(actual, stated) / min(actual, stated)
        if ratio > HAND_ESTIMATE_TOLERANCE:
            factor = "∞" if math.isinf(ratio) else f"{ratio:.1f}x"
            yield Hit(
                f"estimation.{key}",
                f"{key}: stated {_show(key, stated)}, computed {_show(key, actual)} "
                f"({factor} apart)",
            )


def _show(key: str, value: float) -> str:
    if "bytes" in key:
        return units.format_bytes(value) + ("/s" if key.endswith(("_avg", "_peak")) else "")
    if key.startswith("downtime"):
        return units.format_duration(value)
    return units.format_count(value)
