"""Back-of-the-envelope estimation (codex 2.2): from requirements to the numbers that decide.

The codex treats estimation as a tool for justifying architecture: is sharding needed, does
the hot set fit in memory, what bandwidth must the edge carry. :func:`estimate` does the
arithmetic an interviewer expects, with every step explicit:

* QPS: ``DAU × requests per user per day ÷ 86,400 s``, and the peak is that times the
  peak factor; reads and writes separately, because caches absorb one and not the other.
* Bandwidth: ingress carries the writes' payloads, egress the reads' (payload only: headers,
  TLS and retransmissions come on top).
* Storage: one copy grows by ``DAU × writes × write size`` a day (``ingest_bytes_per_day``);
  replication multiplies what the disks hold (``storage_bytes_per_day``, ``_per_year``).
  After the retention period old data is deleted as fast as new data arrives, so the data
  set levels off at ``ingest × retention`` (``dataset_bytes``, one copy: what a single
  unsharded node must hold) and ``storage_bytes_total`` (all copies).
* Cache: the hot set is ``cache_fraction`` (20% by default, the 80/20 rule) of one day's read
  volume, an upper bound since repeated reads of one item count once in memory.
* Servers: ``⌈peak QPS ÷ per-server QPS⌉``, at least one.
* Downtime: ``(1 − availability) × 365 days``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from archlab.design.requirements import Requirements
from archlab.design.units import DAYS_PER_YEAR, SECONDS_PER_DAY, SECONDS_PER_YEAR


@dataclass(frozen=True)
class Estimate:
    """The derived numbers, in base units (requests/s, bytes, bytes/s, seconds)."""

    requirements: Requirements
    read_qps_avg: float
    write_qps_avg: float
    read_qps_peak: float
    write_qps_peak: float
    ingress_bytes_per_s_avg: float
    ingress_bytes_per_s_peak: float
    egress_bytes_per_s_avg: float
    egress_bytes_per_s_peak: float
    ingest_bytes_per_day: float
    storage_bytes_per_day: float
    storage_bytes_per_year: float
    dataset_bytes: float
    storage_bytes_total: float
    read_bytes_per_day: float
    cache_bytes: float
    servers_needed: int
    downtime_s_per_year: float

    @property
    def qps_avg(self) -> float:
        return self.read_qps_avg + self.write_qps_avg

    @property
    def qps_peak(self) -> float:
        return self.read_qps_peak + self.write_qps_peak

    def to_dict(self) -> dict[str, Any]:
        """Every number, named as in the ``--json`` output (requirements included)."""
        data: dict[str, Any] = {
            "requirements": self.requirements.as_dict(),
            "defaults_used": sorted(
                set(self.requirements.as_dict()) - set(self.requirements.given)
            ),
            "qps_avg": self.qps_avg,
            "qps_peak": self.qps_peak,
        }
        for field in fields(self):
            if field.name != "requirements":
                data[field.name] = getattr(self, field.name)
        return data


def estimate(req: Requirements) -> Estimate:
    """The back-of-the-envelope numbers for ``req`` (see the module docstring)."""
    read_avg = req.dau * req.reads_per_user_per_day / SECONDS_PER_DAY
    write_avg = req.dau * req.writes_per_user_per_day / SECONDS_PER_DAY
    read_peak = read_avg * req.peak_factor
    write_peak = write_avg * req.peak_factor
    ingest_per_day = req.dau * req.writes_per_user_per_day * req.write_size
    read_per_day = req.dau * req.reads_per_user_per_day * req.read_size
    dataset = ingest_per_day * req.retention / SECONDS_PER_DAY
    peak = read_peak + write_peak
    return Estimate(
        requirements=req,
        read_qps_avg=read_avg,
        write_qps_avg=write_avg,
        read_qps_peak=read_peak,
        write_qps_peak=write_peak,
        ingress_bytes_per_s_avg=write_avg * req.write_size,
        ingress_bytes_per_s_peak=write_peak * req.write_size,
        egress_bytes_per_s_avg=read_avg * req.read_size,
        egress_bytes_per_s_peak=read_peak * req.read_size,
        ingest_bytes_per_day=ingest_per_day,
        storage_bytes_per_day=ingest_per_day * req.replication,
        storage_bytes_per_year=ingest_per_day * req.replication * DAYS_PER_YEAR,
        dataset_bytes=dataset,
        storage_bytes_total=dataset * req.replication,
        read_bytes_per_day=read_per_day,
        cache_bytes=read_per_day * req.cache_fraction,
        servers_needed=max(1, math.ceil(peak / req.server_qps - 1e-9)),
        downtime_s_per_year=(1 - req.availability) * SECONDS_PER_YEAR,
    )
