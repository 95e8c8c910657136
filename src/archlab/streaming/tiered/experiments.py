"""Chapter 7.2 claims about the log and Pulsar's separated storage: ``streaming.replay_vs_delete``,
``streaming.storage_scaling`` and ``streaming.tiered_retention``.

Each measurement and its judge live in a ``measure_*`` module; this module registers them.
"""

from __future__ import annotations

from archlab.lab import Column, Context, Figure, Outcome, Series, Table, experiment
from archlab.streaming.tiered.measure_replay import (
    ReplayMeasurement,
    judge_replay,
    measure_replay,
)
from archlab.streaming.tiered.measure_retention import (
    MB,
    RetentionRun,
    TieredRetentionMeasurement,
    judge_tiered_retention,
    object_store,
    p50,
    read_back,
    read_times,
    run_retention,
)
from archlab.streaming.tiered.measure_scaling import (
    StorageScalingMeasurement,
    judge_storage_scaling,
    kafka_style,
    pulsar_style,
)
from archlab.streaming.tiered.objectstore import LocalDirectoryStore

__all__ = [
    "ReplayMeasurement",
    "StorageScalingMeasurement",
    "TieredRetentionMeasurement",
    "judge_replay",
    "judge_storage_scaling",
    "judge_tiered_retention",
    "replay_vs_delete",
    "storage_scaling",
    "tiered_retention",
]


@experiment(
    id="streaming.replay_vs_delete",
    section="7.2",
    title="A log replays what was consumed; an exchange broker has deleted it",
    claim="""Kafka stores a durable log and consumers manage their own positions, so history
    can be replayed; RabbitMQ deletes a message once it is acknowledged.""",
    method="""The same messages are published to a fanout exchange of the exchange broker and to
    a topic of the Pulsar-model cluster (a log with cursors), and one consumer consumes and
    acknowledges all of them on each. Then a new queue is bound to the exchange and a new
    subscription starts at the earliest position of the topic; the messages each broker still
    holds and each new reader receives are counted, and subscriptions are moved to random
    positions to check each returns exactly the suffix after it.""",
    judge=judge_replay,
    rule="""holds if the exchange broker lets a new queue replay none of the acknowledged
    messages (codex: deleted once acknowledged) and the log lets a new subscription replay all
    of them, with every seek exact; nuanced if the log replays only part (retention deleted the
    rest); refuted if the exchange replays any, the log none, or a seek returns the wrong
    suffix.""",
    profiles={
        "quick": {"messages": 2000, "seeks": 20},
        "full": {"messages": 20000, "seeks": 100},
    },
    references=[
        "Codex 7.2: Kafka optimized for replayability; RabbitMQ deletes messages once "
        "acknowledged (docs/references.md §7.2).",
    ],
)
def replay_vs_delete(ctx: Context) -> Outcome[ReplayMeasurement]:
    p = ctx.params
    with ctx.progress.task("replay vs delete", 1) as task:
        m = measure_replay(ctx.scratch, int(p["messages"]), int(p["seeks"]), ctx.rng("replay"))
        task.advance()
    table = Table(
        "After every message was consumed and acknowledged",
        [Column("model"), Column("messages held"), Column("a new reader receives")],
    )
    table.add("exchange broker (new queue bound)", m.exchange_stored_after_ack, m.exchange_replayed)
    table.add("log (new subscription, earliest)", m.log_retained, m.log_replayed)
    return Outcome(
        m,
        summary=f"new reader after consumption: exchange {m.exchange_replayed}/{m.messages}, "
        f"log {m.log_replayed}/{m.messages}; {m.seeks_exact}/{m.seeks} seeks exact",
        tables=[table],
    )


@experiment(
    id="streaming.storage_scaling",
    section="7.2",
    title="Adding storage: Kafka-style reassignment vs Pulsar-style bookies",
    claim="""Pulsar separates brokers from storage (BookKeeper), so when storage is full you
    can add storage nodes without rebalancing: no data moves, new ledgers use the new node;
    in Kafka a partition's data lives on its brokers, so using a new broker means copying
    partitions to it.""",
    method="""A Pulsar-model cluster of N bookies is loaded by several topics written at
    different rates on a simulated clock (E = W = 3, A = 2, ledgers rolled after a scaled-down
    count of entries or Pulsar's 240 minutes); a bookie is added and writing goes on until it
    stores an entry, and then a while longer; the bytes that reach it from ledgers older than
    it, the simulated time to its first entry and its share of later writes are counted. The same
    topics' bytes as Kafka-style partition logs (three replicas on consecutive brokers) are
    written as files on N broker directories; a broker is added and a balanced reassignment
    copies replicas from the most loaded brokers until it holds its share; bytes and copy time
    are measured (a local copy: a lower bound of a network copy).""",
    judge=judge_storage_scaling,
    rule="""refuted if the Pulsar-style cluster moves any bytes to use the new bookie, or the new
    bookie never takes a write; holds if it moves none and the new bookie takes its first
    write within 240 simulated minutes (Pulsar's longest ledger rollover); nuanced if it
    moves none but waits longer. The Kafka-style copy is reported beside it.""",
    profiles={
        "quick": {
            "nodes": 4,
            "topics": 8,
            "entry_kb": 4,
            "rate": 2.0,
            "held_mb_per_node": 3,
            "max_entries": 200,
            "after_s": 200,
        },
        "full": {
            "nodes": 6,
            "topics": 24,
            "entry_kb": 8,
            "rate": 2.0,
            "held_mb_per_node": 32,
            "max_entries": 1000,
            "after_s": 600,
        },
    },
    references=[
        "Codex 7.2: Pulsar separates compute from storage; add storage nodes without "
        "rebalancing the brokers.",
        "Pulsar broker configuration: managedLedgerMaxEntriesPerLedger = 50000, "
        "managedLedgerMaxLedgerRolloverTimeMinutes = 240 (docs/references.md §7.2).",
    ],
)
def storage_scaling(ctx: Context) -> Outcome[StorageScalingMeasurement]:
    p = ctx.params
    nodes = int(p["nodes"])
    with ctx.progress.task("add a storage node", 2) as task:
        pulsar = pulsar_style(
            ctx.scratch,
            ctx.rng("pulsar"),
            nodes,
            int(p["topics"]),
            int(p["entry_kb"]) * 1024,
            float(p["rate"]),
            float(p["held_mb_per_node"]),
            int(p["max_entries"]),
            float(p["after_s"]),
        )
        task.advance()
        # Kafka-style partitions hold the same bytes per topic as the Pulsar topics did
        kafka = kafka_style(ctx.scratch, nodes, list(pulsar.topic_bytes.values()))
        task.advance()
    m = StorageScalingMeasurement(
        nodes=nodes,
        held_mb=round(pulsar.held / MB, 2),
        kafka_moved_mb=round(kafka.moved / MB, 3),
        kafka_moved_fraction=round(kafka.moved / kafka.held, 4),
        kafka_mb_before_first_write=round(kafka.before_first_write / MB, 3),
        kafka_copy_s_to_first_write=round(kafka.seconds_to_first_write, 4),
        kafka_copy_s_to_balance=round(kafka.seconds_to_balance, 4),
        pulsar_moved_mb=round(pulsar.moved / MB, 3),
        pulsar_new_node_took_writes=pulsar.took_writes,
        pulsar_s_to_first_write=round(pulsar.seconds_to_first_write, 1),
        pulsar_new_node_share=round(pulsar.new_share, 4),
        pulsar_old_nodes_mb_freed=round(pulsar.old_freed / MB, 3),
    )
    table = Table(
        "Adding one storage node to a loaded cluster",
        [
            Column("model"),
            Column("data moved", "MB"),
            Column("moved before first new write", "MB"),
            Column("until the new node takes writes"),
        ],
        note="Kafka-style time is a local file copy on this disk (a network copy under a "
        "replication throttle is slower); Pulsar-style time is simulated seconds of writing.",
    )
    table.add(
        "Kafka-style reassignment",
        m.kafka_moved_mb,
        m.kafka_mb_before_first_write,
        f"{m.kafka_copy_s_to_first_write:.3f} s of copying",
    )
    table.add(
        "Pulsar-style new bookie",
        m.pulsar_moved_mb,
        m.pulsar_moved_mb,
        f"{m.pulsar_s_to_first_write:.0f} s (next ledger rollover)"
        if m.pulsar_new_node_took_writes
        else "never",
    )
    figure = Figure(
        "Data copied to bring a new storage node into use",
        y_label="MB",
        series=[
            Series(
                "copied in all",
                ["Kafka-style reassignment", "Pulsar-style new bookie"],
                [m.kafka_moved_mb, m.pulsar_moved_mb],
                style="bar",
            ),
            Series(
                "copied before its first new write",
                ["Kafka-style reassignment", "Pulsar-style new bookie"],
                [m.kafka_mb_before_first_write, m.pulsar_moved_mb],
                style="bar",
            ),
        ],
    )
    return Outcome(
        m,
        figures=[figure],
        summary=f"Kafka-style moved {m.kafka_moved_mb:.1f} MB ({m.kafka_moved_fraction:.0%}); "
        f"Pulsar-style moved {m.pulsar_moved_mb:.1f} MB, new bookie writing after "
        f"{m.pulsar_s_to_first_write:.0f} simulated s, {m.pulsar_new_node_share:.0%} of new data",
        tables=[table],
    )


@experiment(
    id="streaming.tiered_retention",
    section="7.2",
    title="Tiered storage: local disk held vs retention, and read latency per tier",
    claim="""Pulsar's tiered storage offloads old data to S3, so local disk no longer grows
    with the retention period, which makes it suited to infinite retention.""",
    method="""One topic of the Pulsar-model cluster is written at a steady rate on a simulated
    clock (ledgers rolled hourly, consumed as written), with the broker's maintenance (offload,
    retention) every simulated hour, for several retention periods, with offload off and on.
    At the end the bytes on the bookies and in the object store (a local directory) are
    measured; the longest runs read back every retained message and time single reads from
    the bookies; a twelve-hour run offloading through the S3 API (moto's server on loopback
    when installed) reads back its messages and times reads from the object tier.""",
    judge=judge_tiered_retention,
    rule="""refuted if, with offload, local disk at the longest retention exceeds 1.5x that at the
    shortest (offload did not bound it) or any retained message fails to read back; holds if
    it is bounded and, without offload, local disk grows at least half in proportion to
    retention (the regime where retention costs disk); nuanced if even without offload local
    disk did not follow retention. Read latency per tier is reported, not judged.""",
    profiles={
        "quick": {
            "retention_hours": [6, 24, 96],
            "entries_per_hour": 6,
            "entry_bytes": 1024,
            "samples": 20,
            "store": "s3",
        },
        "full": {
            "retention_hours": [6, 24, 96, 384],
            "entries_per_hour": 30,
            "entry_bytes": 4096,
            "samples": 200,
            "store": "s3",
        },
    },
    references=[
        "Codex 7.2: Pulsar's tiered storage offloads old data to S3 (infinite retention).",
        "Pulsar tiered storage: closed ledgers are offloaded; bookie copies are deleted after "
        "managedLedgerOffloadDeletionLagMs (docs/references.md §7.2).",
    ],
)
def tiered_retention(ctx: Context) -> Outcome[TieredRetentionMeasurement]:
    p = ctx.params
    hours = [float(h) for h in p["retention_hours"]]
    end_h = max(hours) + 12
    local: dict[bool, list[float]] = {False: [], True: []}
    offloaded: list[float] = []
    runs: dict[bool, RetentionRun] = {}
    samples = int(p["samples"])
    rate, size = int(p["entries_per_hour"]), int(p["entry_bytes"])
    with ctx.progress.task("retention runs", 2 * len(hours) + 1) as task:
        for i, h in enumerate(hours):
            for offload in (False, True):
                run = run_retention(
                    ctx.scratch / f"run{i}-{int(offload)}",
                    LocalDirectoryStore(ctx.scratch / f"objects{i}-{int(offload)}"),
                    ctx.rng(f"run{i}"),
                    h,
                    end_h,
                    offload,
                    rate,
                    size,
                )
                local[offload].append(round(run.local / MB, 4))
                if offload:
                    offloaded.append(round(run.offloaded / MB, 4))
                runs[offload] = run  # the longest retention's runs are kept last
                task.advance()
        readable = read_back(runs[True])
        bookie_ms = read_times(runs[False], ctx.rng("reads"), samples, "bookie")
        # the object tier's latency on the S3 API: a shorter run offloading to that store
        with object_store(ctx.scratch, str(p["store"])) as (store, store_name):
            remote = run_retention(
                ctx.scratch / "remote", store, ctx.rng("remote"), 12, 12, True, rate, size
            )
            readable = min(readable, read_back(remote))
            object_ms = read_times(remote, ctx.rng("reads"), samples, "object store")
        task.advance()
    ratio = max(hours) / min(hours)
    growth_without = local[False][-1] / local[False][0]
    m = TieredRetentionMeasurement(
        retention_hours=hours,
        local_mb_without_offload=local[False],
        local_mb_with_offload=local[True],
        object_mb_with_offload=offloaded,
        retention_ratio=round(ratio, 3),
        local_growth_with_offload=round(local[True][-1] / local[True][0], 4),
        local_growth_without_offload=round(growth_without, 4),
        without_offload_proportionality=round(growth_without / ratio, 4),
        retained_readable=round(readable, 4),
        bookie_read_ms_p50=p50(bookie_ms),
        object_read_ms_p50=p50(object_ms),
        object_store=store_name,
    )
    table = Table(
        "Disk held at the end of each run",
        [
            Column("retention", "h"),
            Column("bookies, no offload", "MB"),
            Column("bookies, offload", "MB"),
            Column("object store", "MB"),
        ],
    )
    for row in zip(hours, local[False], local[True], offloaded, strict=True):
        table.add(*row)
    reads = Table("Single-message reads", [Column("tier"), Column("p50", "ms"), Column("reads")])
    reads.add("bookie (local disk)", m.bookie_read_ms_p50, len(bookie_ms))
    reads.add(
        f"object store: {store_name} (cold, index included)", m.object_read_ms_p50, len(object_ms)
    )
    figure = Figure(
        "Local disk held vs retention",
        x_label="retention (hours)",
        y_label="MB on bookies",
        log_x=True,
        series=[
            Series("no offload", hours, local[False]),
            Series("offload", hours, local[True]),
            Series("object store", hours, offloaded),
        ],
    )
    return Outcome(
        m,
        summary=f"{ratio:.0f}x retention: local disk x{m.local_growth_without_offload:.1f} "
        f"without offload, x{m.local_growth_with_offload:.2f} with; reads "
        f"{m.bookie_read_ms_p50:.3f} ms (bookie) vs {m.object_read_ms_p50:.3f} ms ({store_name})",
        tables=[table, reads],
        figures=[figure],
    )


def _unused_store(ctx: Context, i: int) -> LocalDirectoryStore:
    return LocalDirectoryStore(ctx.scratch / f"unused{i}")
