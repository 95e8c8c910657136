"""The codex's Table 1 (section 2.2): estimation thresholds and what each one implies.

Table 1 maps five numbers to architecture: under 1k QPS a single database instance (with
replicas) is likely enough; over 10k QPS calls for sharding or a heavy caching layer; a
latency target under 100 ms calls for an in-memory cache; over 10 TB calls for sharding or a
distributed file system; and 99.999% availability calls for multi-region active-active.

:func:`implications` applies those thresholds to an :class:`~archlab.design.estimate.Estimate`
and returns each implication with the number that triggered it. Two readings are archlab's
own and say so: throughput compares the *peak* of reads plus writes (capacity is planned for
the peak), and storage compares the *retained data set of one copy* (each replica of an
unsharded database holds all of it, so replication adds machines, not room). The gap the
table leaves between 1k and 10k QPS gets an implication marked as archlab's interpolation.

:func:`regime` condenses the same thresholds into one of five regimes for the 2.2 regime map.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import Any

from archlab.design import units
from archlab.design.estimate import Estimate

SECTION = "2.2"
SINGLE_INSTANCE_QPS = 1_000
SHARDING_QPS = 10_000
CACHE_LATENCY_MS = 100
DISTRIBUTED_STORAGE_BYTES = 10e12
DISTRIBUTED_ONLY_BYTES = 100e12
MULTI_REGION_AVAILABILITY = 0.99999
_EPSILON = 1e-12


@dataclass(frozen=True)
class Implication:
    """One threshold crossed: which, by what number, and what it implies."""

    rule: str
    section: str
    metric: str
    value: float
    comparison: str
    threshold: float
    unit: str
    advice: str
    source: str = "Table 1"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def shown_value(self) -> str:
        return _show(self.value, self.unit)

    @property
    def shown_threshold(self) -> str:
        return f"{self.comparison} {_show(self.threshold, self.unit)}"


def _show(value: float, unit: str) -> str:
    if unit == "bytes":
        return units.format_bytes(value)
    if unit == "fraction":
        return units.format_fraction(value)
    if unit == "ms":
        return f"{units.format_count(value)} ms"
    return f"{units.format_count(value)} {unit}".strip()


def five_nines(availability: float) -> bool:
    return availability >= MULTI_REGION_AVAILABILITY - _EPSILON


def implications(est: Estimate) -> list[Implication]:
    """Every Table 1 threshold ``est`` crosses, in the table's order."""
    req = est.requirements
    found: list[Implication] = []
    qps = est.qps_peak
    if qps < SINGLE_INSTANCE_QPS:
        found.append(
            Implication(
                "table1.throughput_single_instance",
                SECTION,
                "peak QPS (reads + writes)",
                qps,
                "<",
                SINGLE_INSTANCE_QPS,
                "QPS",
                "A single database instance is likely sufficient for throughput; add replicas "
                "for availability and read scaling. Sharding for throughput is unnecessary "
                "(it may still be needed for storage).",
            )
        )
    elif qps <= SHARDING_QPS:
        found.append(
            Implication(
                "table1.throughput_between",
                SECTION,
                "peak QPS (reads + writes)",
                qps,
                "≥",
                SINGLE_INSTANCE_QPS,
                "QPS",
                f"Between Table 1's thresholds (1k–10k QPS), which names no implication here: "
                f"a larger primary with read replicas for the "
                f"{units.format_count(est.read_qps_peak)} reads/s usually holds; choose the "
                "sharding key before traffic passes 10k QPS.",
                source="archlab (between Table 1 rows)",
            )
        )
    else:
        found.append(
            Implication(
                "table1.throughput_sharding_or_cache",
                SECTION,
                "peak QPS (reads + writes)",
                qps,
                ">",
                SHARDING_QPS,
                "QPS",
                _high_throughput_advice(est),
            )
        )
    if req.latency_ms is not None and req.latency_ms < CACHE_LATENCY_MS:
        found.append(
            Implication(
                "table1.latency_in_memory_cache",
                SECTION,
                "latency target",
                req.latency_ms,
                "<",
                CACHE_LATENCY_MS,
                "ms",
                f"Serve the hot set from an in-memory cache (Redis/Memcached): about "
                f"{units.format_bytes(est.cache_bytes)} for "
                f"{units.format_fraction(req.cache_fraction)} of a day's reads.",
            )
        )
    if est.dataset_bytes > DISTRIBUTED_STORAGE_BYTES:
        shards = math.ceil(est.dataset_bytes / DISTRIBUTED_STORAGE_BYTES)
        beyond = (
            " At 100 TB and beyond the codex calls for a distributed storage system outright."
            if est.dataset_bytes >= DISTRIBUTED_ONLY_BYTES
            else ""
        )
        found.append(
            Implication(
                "table1.storage_sharding_or_dfs",
                SECTION,
                "retained data set (one copy)",
                est.dataset_bytes,
                ">",
                DISTRIBUTED_STORAGE_BYTES,
                "bytes",
                f"Shard the database (at least {shards} shards of ≤ 10 TB) or keep the bulk in a "
                f"distributed file or object store (S3/HDFS); with {req.replication:g} copies the "
                f"disks hold {units.format_bytes(est.storage_bytes_total)}.{beyond}",
            )
        )
    if five_nines(req.availability):
        found.append(
            Implication(
                "table1.availability_multi_region",
                SECTION,
                "availability target",
                req.availability,
                "≥",
                MULTI_REGION_AVAILABILITY,
                "fraction",
                "Deploy multi-region active-active: "
                f"{units.format_duration(est.downtime_s_per_year)} of downtime a year is less "
                "than one regional outage or failover takes.",
            )
        )
    return found


def _high_throughput_advice(est: Estimate) -> str:
    if est.write_qps_peak > SHARDING_QPS:
        return (
            f"Writes alone peak at {units.format_count(est.write_qps_peak)}/s: shard the "
            "database (a cache absorbs reads, not writes), and cache the reads as well."
        )
    # Reads a cache must absorb so that the database sees at most SHARDING_QPS in total.
    hit_ratio = 1 - (SHARDING_QPS - est.write_qps_peak) / est.read_qps_peak
    return (
        f"Reads dominate ({units.format_count(est.read_qps_peak)}/s at peak): a heavy caching "
        f"layer with a hit ratio of at least {units.format_fraction(round(hit_ratio, 4))} keeps "
        "the database under 10k QPS; otherwise shard."
    )


class Regime(IntEnum):
    """Which Table 1 regime a workload falls in, from least to most distributed."""

    SINGLE_INSTANCE = 0
    REPLICAS = 1
    SHARDING_OR_CACHE = 2
    DISTRIBUTED_STORAGE = 3
    SHARDING_AND_DISTRIBUTED_STORAGE = 4

    @property
    def label(self) -> str:
        return REGIME_LABELS[self]

    @property
    def short(self) -> str:
        """A label short enough for a cell of the regime map."""
        return ("single", "replicas", "shard", "dist.", "shard+dist.")[self]


REGIME_LABELS = {
    Regime.SINGLE_INSTANCE: "single instance",
    Regime.REPLICAS: "replicas",
    Regime.SHARDING_OR_CACHE: "shard/cache",
    Regime.DISTRIBUTED_STORAGE: "dist. storage",
    Regime.SHARDING_AND_DISTRIBUTED_STORAGE: "shard + dist.",
}


def throughput_regime(qps_peak: float) -> Regime:
    """The regime throughput alone calls for."""
    if qps_peak < SINGLE_INSTANCE_QPS:
        return Regime.SINGLE_INSTANCE
    if qps_peak <= SHARDING_QPS:
        return Regime.REPLICAS
    return Regime.SHARDING_OR_CACHE


def regime(qps_peak: float, dataset_bytes: float) -> Regime:
    """The regime of a workload: throughput's, escalated when the data set passes 10 TB."""
    by_throughput = throughput_regime(qps_peak)
    if dataset_bytes <= DISTRIBUTED_STORAGE_BYTES:
        return by_throughput
    if by_throughput is Regime.SHARDING_OR_CACHE:
        return Regime.SHARDING_AND_DISTRIBUTED_STORAGE
    return Regime.DISTRIBUTED_STORAGE


def regime_of(est: Estimate) -> Regime:
    return regime(est.qps_peak, est.dataset_bytes)
