"""``streaming.storage_scaling`` (7.2): add a storage node to a loaded cluster.

Pulsar-style, on the model of :mod:`.cluster`: N bookies hold the ledgers of several topics
(replicated E = W = 3, A = 2) written at different rates on a simulated clock; a bookie is
added; writing goes on. Counted: the bytes that reach the new bookie from ledgers created
before it joined (data moved), the simulated seconds until it stores its first entry, and its
share of what is written afterwards. Ledgers roll by entry count and by age (Pulsar rolls an
open ledger at the latest after ``managedLedgerMaxLedgerRolloverTimeMinutes`` = 240).

Kafka-style, as replicated partition logs on broker directories: the same topics' bytes, each
partition a log file on three of N brokers (consecutive brokers, as Kafka assigns replicas); a
broker is added and a balanced reassignment moves replicas from the most loaded brokers until
the newcomer holds its share. Each move copies the replica's log file (a real copy on this disk,
timed; over a network and under a replication throttle it only takes longer) before the new
broker serves that partition. Counted: bytes copied before its first write, in total, and the
copy time.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from random import Random

from archlab.lab import Evidence, Judgement, Threshold, holds, nuanced, refuted
from archlab.streaming.tiered.cluster import TieredCluster, TieredConfig
from archlab.streaming.tiered.objectstore import LocalDirectoryStore

MB = 1e6
#: Codex 7.2: Pulsar "can add storage nodes without rebalancing": nothing is copied.
NO_DATA_MOVED = Threshold(0.0, "MB", "codex 7.2: add storage nodes without rebalancing")
#: An open ledger is closed and a new one (with a freshly chosen ensemble) opened at the latest
#: after managedLedgerMaxLedgerRolloverTimeMinutes = 240 (Pulsar broker configuration default,
#: docs/references.md §7.2).
ROLLOVER_BOUND = Threshold(
    14400.0, "s", "Pulsar rolls every open ledger within 240 min (broker configuration default)"
)


@dataclass(frozen=True)
class StorageScalingMeasurement:
    nodes: int
    held_mb: float  # stored cluster-wide before the new node joined, replicas included
    kafka_moved_mb: float
    kafka_moved_fraction: float
    kafka_mb_before_first_write: float
    kafka_copy_s_to_first_write: float
    kafka_copy_s_to_balance: float
    pulsar_moved_mb: float
    pulsar_new_node_took_writes: bool
    pulsar_s_to_first_write: float  # simulated seconds after the join; -1 if never
    pulsar_new_node_share: float  # of the bytes stored after the join
    pulsar_old_nodes_mb_freed: float


def judge_storage_scaling(m: StorageScalingMeasurement) -> Judgement:
    moved = Evidence(
        "Pulsar-style: bytes moved to use the new node",
        m.pulsar_moved_mb,
        "MB",
        at_most=NO_DATA_MOVED,
    )
    wait = Evidence(
        "Pulsar-style: simulated seconds until the new node takes writes",
        m.pulsar_s_to_first_write,
        "s",
        at_most=ROLLOVER_BOUND,
    )
    kafka = Evidence(
        "Kafka-style: MB copied before the new broker takes writes",
        m.kafka_mb_before_first_write,
        "MB",
    )
    text = (
        f"adding a node to {m.nodes} holding {m.held_mb:.0f} MB: Kafka-style reassignment copied "
        f"{m.kafka_moved_mb:.1f} MB ({m.kafka_moved_fraction:.0%} of the data), "
        f"{m.kafka_mb_before_first_write:.1f} MB before the new broker took a write "
        f"({m.kafka_copy_s_to_balance:.2f} s of local copying in all); the Pulsar-style cluster "
        f"moved {m.pulsar_moved_mb:.1f} MB, and the new bookie "
        + (
            f"stored its first entry {m.pulsar_s_to_first_write:.0f} s later (simulated) and "
            f"{m.pulsar_new_node_share:.0%} of what was written after it joined, while the old "
            f"bookies kept all their data ({m.pulsar_old_nodes_mb_freed:.1f} MB freed)"
            if m.pulsar_new_node_took_writes
            else "never took a write"
        )
    )
    if not moved.met or not m.pulsar_new_node_took_writes:
        return refuted(text, moved, wait, kafka)
    if wait.met:
        return holds(text, moved, wait, kafka)
    return nuanced(text + ": no copy, but the new node waited past a rollover", moved, wait, kafka)


# --- Pulsar-style ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PulsarRun:
    held: int
    topic_bytes: dict[str, int]
    moved: int
    took_writes: bool
    seconds_to_first_write: float
    new_share: float
    old_freed: int


def pulsar_style(
    scratch: Path,
    rng: Random,
    nodes: int,
    topics: int,
    entry_bytes: int,
    rate: float,
    held_mb_per_node: float,
    max_entries: int,
    after_s: float,
    step_s: float = 1.0,
) -> PulsarRun:
    now = [0.0]
    cluster = TieredCluster(
        scratch / "pulsar",
        LocalDirectoryStore(scratch / "pulsar" / "objects"),
        rng,
        lambda: now[0],
        TieredConfig(ensemble=3, write_quorum=3, ack_quorum=2, max_entries_per_ledger=max_entries),
    )
    for i in range(nodes):
        cluster.add_bookie(f"bookie{i}")
    broker = cluster.add_broker("broker0")
    names = [f"topic{t}" for t in range(topics)]
    rates = {n: rate * rng.lognormvariate(0, 0.7) for n in names}
    due = {n: rng.random() for n in names}
    for n in names:
        broker.acquire(n)
    payload = bytes(entry_bytes)
    topic_bytes = dict.fromkeys(names, 0)

    def step() -> None:
        now[0] += step_s
        for n in names:
            due[n] += rates[n] * step_s
            while due[n] >= 1:
                broker.publish(n, payload)
                topic_bytes[n] += entry_bytes
                due[n] -= 1

    while cluster.local_bytes() < held_mb_per_node * MB * nodes:
        step()
    held = cluster.local_bytes()
    before = {name: b.disk_bytes() for name, b in cluster.bookies.bookies.items()}
    old_ledgers = set(cluster.bookies.metadata.ledgers)
    joined = now[0]
    newcomer = cluster.add_bookie("bookie-new")
    first_write = -1.0
    # write until the new bookie takes an entry (or two of Pulsar's longest rollover periods
    # pass without it), then ``after_s`` more to see its share of the new data
    while first_write < 0 and now[0] - joined < 2 * ROLLOVER_BOUND.value:
        step()
        if newcomer.bytes_written > 0:
            first_write = now[0] - joined
    end = now[0] + after_s
    while now[0] < end:
        step()
    moved = sum(
        newcomer.ledger_bytes(ledger) for ledger in newcomer.ledgers() if ledger in old_ledgers
    )
    stored_after = cluster.local_bytes() - held
    old_freed = sum(max(0, v - cluster.bookies.bookies[n].disk_bytes()) for n, v in before.items())
    return PulsarRun(
        held=held,
        topic_bytes=topic_bytes,
        moved=moved,
        took_writes=first_write >= 0,
        seconds_to_first_write=first_write,
        new_share=newcomer.disk_bytes() / stored_after if stored_after > 0 else 0.0,
        old_freed=old_freed,
    )


# --- Kafka-style -------------------------------------------------------------------------------
@dataclass(frozen=True)
class KafkaRun:
    held: int
    moved: int
    before_first_write: int
    seconds_to_first_write: float
    seconds_to_balance: float


def kafka_style(scratch: Path, nodes: int, partition_bytes: list[int]) -> KafkaRun:
    """Replicated partition logs on broker directories; add a broker; reassign and copy."""
    root = scratch / "kafka"
    brokers = [root / f"broker{b}" for b in range(nodes + 1)]
    for d in brokers:
        d.mkdir(parents=True, exist_ok=True)
    replicas: dict[int, list[int]] = {}
    for p, size in enumerate(partition_bytes):
        replicas[p] = [(p + k) % nodes for k in range(3)]
        block = bytes([p % 251]) * size
        for b in replicas[p]:
            (brokers[b] / f"p{p}.log").write_bytes(block)
    held = 3 * sum(partition_bytes)
    new = nodes
    target = sum(len(r) for r in replicas.values()) // (nodes + 1)
    moved = before_first = 0
    first_s = -1.0
    start = time.perf_counter()
    for _ in range(target):
        load = {b: sum(b in r for r in replicas.values()) for b in range(nodes)}
        donor = max(load, key=lambda b: (load[b], -b))
        candidates = [p for p, r in replicas.items() if donor in r and new not in r]
        if not candidates:
            break
        p = min(candidates)
        src, dst = brokers[donor] / f"p{p}.log", brokers[new] / f"p{p}.log"
        shutil.copyfile(src, dst)
        size = dst.stat().st_size
        src.unlink()
        replicas[p] = [new if b == donor else b for b in replicas[p]]
        moved += size
        if first_s < 0:
            first_s = time.perf_counter() - start
            before_first = size
    return KafkaRun(held, moved, before_first, first_s, time.perf_counter() - start)
