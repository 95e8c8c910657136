"""``streaming.tiered_retention`` (7.2): local disk held vs retention, with and without offload.

One topic of the Pulsar-model cluster is written at a steady rate on a simulated clock, its
ledgers rolled hourly, and consumed as it is written (so retention, not backlog, decides what
is kept); every simulated hour the owning broker runs its maintenance (roll, offload, drop
offloaded copies, retention). For each retention period the run goes on past the period, then
the bytes on the bookies' disks (the local tier) and in the object store are measured, with
offload off and on (the object store: a local directory). Every retained message of the
longest runs is read back, and the latency of a cold single-message read is timed on each
tier: the bookies (the longest run without offload) and the object store (a shorter run that
offloads through the S3 API; an offloaded ledger's index and entries are two ranged GETs), on
moto's S3 server on loopback when moto is installed (the dev extra), else a local directory:
either way a lower bound of a real S3's latency.
"""

from __future__ import annotations

import logging
import socket
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from random import Random

from archlab.lab import Evidence, Judgement, Threshold, holds, nuanced, refuted
from archlab.streaming.tiered.cluster import Broker, TieredCluster, TieredConfig
from archlab.streaming.tiered.objectstore import LocalDirectoryStore, ObjectStore, S3ObjectStore

HOUR = 3600.0
MB = 1e6
#: With offload the bookies hold the open ledger and the closed ones not yet offloaded,
#: whatever the retention; 1.5x across the retention sweep allows for where the hourly rollover
#: and maintenance fall at the end of the run (one ledger of granularity).
LOCAL_GROWTH_WITH_OFFLOAD = Threshold(
    1.5, "x", "codex 7.2: offload bounds local disk; 1.5x allows one ledger of granularity"
)
#: Without offload the bookies hold retention × ingest: local disk grows in proportion to the
#: retention period (half of proportional allows for the same granularity at the short end).
LOCAL_GROWTH_WITHOUT = Threshold(
    0.5, "", "without offload local disk ∝ retention; half of proportional at least"
)
#: Codex 7.2: tiered storage keeps old data readable ("infinite retention").
ALL_READABLE = Threshold(1.0, "", "codex 7.2: offloaded data stays readable (infinite retention)")


@dataclass(frozen=True)
class TieredRetentionMeasurement:
    retention_hours: list[float]
    local_mb_without_offload: list[float]
    local_mb_with_offload: list[float]
    object_mb_with_offload: list[float]
    retention_ratio: float  # longest / shortest retention
    local_growth_with_offload: float  # local MB at the longest / at the shortest retention
    local_growth_without_offload: float
    without_offload_proportionality: float  # growth without offload / retention ratio
    retained_readable: float  # fraction of retained messages read back intact (with offload)
    bookie_read_ms_p50: float
    object_read_ms_p50: float
    object_store: str


def judge_tiered_retention(m: TieredRetentionMeasurement) -> Judgement:
    bounded = Evidence(
        "local disk, longest / shortest retention, with offload",
        m.local_growth_with_offload,
        "x",
        at_most=LOCAL_GROWTH_WITH_OFFLOAD,
    )
    grows = Evidence(
        "without offload: local growth / retention growth",
        m.without_offload_proportionality,
        "",
        at_least=LOCAL_GROWTH_WITHOUT,
    )
    readable = Evidence(
        "retained messages read back", m.retained_readable, "", at_least=ALL_READABLE
    )
    latency = Evidence(
        f"read p50, object store ({m.object_store}) / bookie",
        round(m.object_read_ms_p50 / m.bookie_read_ms_p50, 2) if m.bookie_read_ms_p50 else 0.0,
        "x",
    )
    text = (
        f"over {m.retention_ratio:.0f}x more retention, local disk grew "
        f"{m.local_growth_without_offload:.1f}x without offload and "
        f"{m.local_growth_with_offload:.2f}x with it (the rest, "
        f"{m.object_mb_with_offload[-1]:.1f} MB, in the object store); "
        f"{m.retained_readable:.0%} of retained messages read back; a read took "
        f"{m.bookie_read_ms_p50:.3f} ms from a bookie and {m.object_read_ms_p50:.3f} ms from the "
        f"object store ({m.object_store})"
    )
    if not bounded.met or not readable.met:
        return refuted(text, bounded, readable, grows, latency)
    if grows.met:
        return holds(text, bounded, readable, grows, latency)
    return nuanced(
        text + ": retention did not drive local disk even without offload",
        bounded,
        readable,
        grows,
        latency,
    )


@dataclass(frozen=True)
class RetentionRun:
    local: int
    offloaded: int
    written: int
    cluster: TieredCluster
    broker: Broker


def run_retention(
    scratch: Path,
    store: ObjectStore,
    rng: Random,
    retention_h: float,
    end_h: float,
    offload: bool,
    entries_per_hour: int,
    entry_bytes: int,
) -> RetentionRun:
    now = [0.0]
    cluster = TieredCluster(
        scratch,
        store,
        rng,
        lambda: now[0],
        TieredConfig(
            ensemble=2,
            write_quorum=2,
            ack_quorum=2,
            max_ledger_age_s=HOUR,
            retention_s=retention_h * HOUR,
            offload=offload,
        ),
    )
    for i in range(3):
        cluster.add_bookie(f"bookie{i}")
    broker = cluster.add_broker("broker0")
    broker.acquire("events")
    broker.subscribe("events", "consumer", "earliest")
    filler = bytes(max(0, entry_bytes - 8))
    sequence = 0
    for _hour in range(int(end_h)):
        for _ in range(entries_per_hour):
            now[0] += HOUR / entries_per_hour
            position = broker.publish("events", filler + sequence.to_bytes(8, "big"))
            sequence += 1
            broker.ack("events", "consumer", position)
        broker.maintain("events")
    return RetentionRun(cluster.local_bytes(), cluster.offloaded_bytes(), sequence, cluster, broker)


def read_back(run: RetentionRun) -> float:
    """Fraction of the retained messages read back intact, in order, from whichever tier."""
    broker = run.broker
    positions = broker.positions("events")
    first = run.written - len(positions)  # retention keeps the newest messages
    intact = sum(
        int.from_bytes(broker.read("events", position)[-8:], "big") == first + i
        for i, position in enumerate(positions)
    )
    return intact / max(len(positions), 1)


def read_times(run: RetentionRun, rng: Random, samples: int, tier: str) -> list[float]:
    """Milliseconds per cold single-message read of messages held in ``tier``."""
    broker = run.broker
    held = [p for p in broker.positions("events") if broker.tier_of(p) == tier]
    times = []
    for position in rng.sample(held, min(samples, len(held))):
        broker.drop_caches()  # cold: an offloaded ledger's index GET counts too
        start = time.perf_counter()
        broker.read("events", position)
        times.append((time.perf_counter() - start) * 1000)
    return times


@contextmanager
def object_store(scratch: Path, kind: str) -> Iterator[tuple[ObjectStore, str]]:
    """The local directory store, or moto's S3 server on loopback when asked and installed."""
    if kind == "s3":
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:
            kind = "local"
        else:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            requests_log = logging.getLogger("werkzeug")  # the server logs every request
            level = requests_log.level
            requests_log.setLevel(logging.ERROR)
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            server.start()
            try:
                yield S3ObjectStore.connect(f"http://127.0.0.1:{port}", "offload"), "S3 (moto)"
            finally:
                server.stop()
                requests_log.setLevel(level)
            return
    yield LocalDirectoryStore(scratch / "objects"), "local directory"


def p50(values: list[float]) -> float:
    return round(statistics.median(values), 4) if values else 0.0
