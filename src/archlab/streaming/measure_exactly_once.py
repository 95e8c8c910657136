"""``streaming.exactly_once`` (codex 7.1): idempotence and transactions under faults, counted.

A seed sweep of :mod:`archlab.streaming.eos_sim`: for each seed the same producer runs over the
same faulty link (dropped requests and responses, broker failovers) once without and once with
idempotence, and a transactional producer runs commits, aborts and crashes. The counts decide
the verdict: duplicates and gaps must appear without idempotence (else the faults did not
reach the regime the claim is about) and none with it; ``read_committed`` must never return a
record of an aborted transaction or part of a committed one.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.lab import (
    Column,
    Context,
    Evidence,
    Figure,
    Judgement,
    Outcome,
    Series,
    Table,
    Threshold,
    experiment,
    holds,
    nuanced,
    refuted,
)
from archlab.streaming.eos_sim import Faults, run_producer, run_transactions

#: Exactly-once means no record twice and none out of place: zero is the only passing count
#: (codex 7.1; the idempotent producer and transactions of KIP-98, docs/references.md §7.1).
NONE_ALLOWED = Threshold(0, "records", "codex 7.1: sequence numbers de-duplicate sends")
NO_GAP = Threshold(0, "records", "KIP-98 (docs/references.md §7.1): only last seq + 1 is accepted")
NO_LOSS = Threshold(0, "records", "an acknowledged write is durable (acks, codex 7.1)")
NO_ABORTED_READ = Threshold(0, "records", "codex 7.1: a set is fully committed or fully aborted")
NO_PARTIAL_TXN = Threshold(0, "transactions", "codex 7.1: a set is fully committed or aborted")
NO_ZOMBIE = Threshold(0, "writes", "KIP-98 (docs/references.md §7.1): a fenced epoch can't write")
#: Without anomalies in the plain run the faults were too mild to show what idempotence fixes.
REGIME = Threshold(1, "records", "the faults must cause anomalies without idempotence")
ABORTS_PRESENT = Threshold(1, "records", "aborted data must exist for read_committed to hide")


@dataclass(frozen=True)
class ExactlyOnceMeasurement:
    seeds: int
    records: int
    retries: int
    failovers: int
    plain_duplicates: int
    plain_gaps: int
    idempotent_duplicates: int
    idempotent_gaps: int
    lost: int
    committed_txns: int
    aborted_txns: int
    zombie_writes_accepted: int
    read_committed_aborted: int
    read_committed_partial: int
    read_uncommitted_aborted: int


def judge_exactly_once(m: ExactlyOnceMeasurement) -> Judgement:
    dup = Evidence(
        "duplicates with idempotence", m.idempotent_duplicates, "records", at_most=NONE_ALLOWED
    )
    gap = Evidence("gaps with idempotence", m.idempotent_gaps, "records", at_most=NO_GAP)
    lost = Evidence("acknowledged records lost", m.lost, "records", at_most=NO_LOSS)
    rc = Evidence(
        "aborted records read_committed returned",
        m.read_committed_aborted,
        "records",
        at_most=NO_ABORTED_READ,
    )
    partial = Evidence(
        "committed transactions seen in part",
        m.read_committed_partial,
        "transactions",
        at_most=NO_PARTIAL_TXN,
    )
    zombie = Evidence(
        "writes accepted from fenced producers",
        m.zombie_writes_accepted,
        "writes",
        at_most=NO_ZOMBIE,
    )
    plain = Evidence(
        "duplicates + gaps without idempotence",
        m.plain_duplicates + m.plain_gaps,
        "records",
        at_least=REGIME,
    )
    aborted = Evidence(
        "aborted records in the log (read_uncommitted)",
        m.read_uncommitted_aborted,
        "records",
        at_least=ABORTS_PRESENT,
    )
    failing = [e for e in (dup, gap, lost, rc, partial, zombie) if e.met is False]
    text = (
        f"over {m.seeds} seeds ({m.retries} retries, {m.failovers} failovers): without "
        f"idempotence {m.plain_duplicates} duplicates and {m.plain_gaps} gaps, with it "
        f"{m.idempotent_duplicates} and {m.idempotent_gaps}; read_committed returned "
        f"{m.read_committed_aborted} aborted records of {m.read_uncommitted_aborted} in the log"
    )
    if failing:
        return refuted(text, *failing)
    if not (plain.met and aborted.met):
        return nuanced(
            text + ": the faults did not produce the anomalies being guarded against",
            plain,
            aborted,
            dup,
            rc,
        )
    return holds(text, plain, aborted, dup, gap, lost, rc, partial, zombie)


@experiment(
    id="streaming.exactly_once",
    section="7.1",
    title="Exactly-once: idempotent producer and transactions under faults",
    claim="""With retries, a producer on an unreliable network writes duplicates and out-of-order
    records; the idempotent producer (producer id, epoch, per-partition sequence numbers) removes
    both, and transactions with read_committed consumers never expose aborted or partial
    writes.""",
    method="""Seeded simulation against the real broker partition and transaction coordinator
    (real RecordBatch v2 logs on disk). A producer with five batches in flight retries every
    batch until acknowledged while the link drops requests and responses and the broker fails
    over (restarts from its log, rebuilding producer state from stored batches). The same seed
    runs without and with idempotence; duplicates and gaps (a record stored after a later one)
    are counted in the log. A transactional producer writes transactions across two partitions
    and commits, aborts or crashes (its successor fences it); a read_committed reader (the
    consumer's aborted-transaction filtering) must see exactly the committed transactions.""",
    judge=judge_exactly_once,
    rule="""holds when, summed over seeds, idempotence leaves 0 duplicates, 0 gaps and 0 lost
    acknowledged records, read_committed returns 0 aborted records and 0 partial transactions,
    fenced producers write 0 records, while the run without idempotence has at least 1 duplicate
    or gap and the log holds at least 1 aborted record (the regime is reached); refuted when any
    of the zero counts is above 0; nuanced when the faults caused no anomaly to guard against.""",
    profiles={
        "quick": {
            "seeds": 4,
            "batches": 60,
            "per_batch": 5,
            "txns": 30,
            "per_txn": 3,
            "drop_request": 0.1,
            "drop_response": 0.1,
            "failover": 0.05,
        },
        "full": {
            "seeds": 30,
            "batches": 200,
            "per_batch": 5,
            "txns": 100,
            "per_txn": 4,
            "drop_request": 0.1,
            "drop_response": 0.1,
            "failover": 0.05,
        },
    },
    references=[
        "Kafka's idempotent producer and transactions (KIP-98): sequence numbers per "
        "partition, five in-flight batches deduplicated, markers, LSO (docs/references.md §7.1).",
    ],
)
def exactly_once(ctx: Context) -> Outcome[ExactlyOnceMeasurement]:
    p = ctx.params
    faults = Faults(float(p["drop_request"]), float(p["drop_response"]), float(p["failover"]))
    seeds = int(p["seeds"])
    totals = dict.fromkeys(ExactlyOnceMeasurement.__dataclass_fields__, 0)
    table = Table(
        "Per seed",
        [
            Column("seed"),
            Column("retries"),
            Column("plain dup"),
            Column("plain gaps"),
            Column("idem dup"),
            Column("idem gaps"),
            Column("txns committed"),
            Column("txns aborted"),
            Column("rc aborted seen"),
        ],
    )
    with ctx.progress.task("seeds", seeds) as task:
        for seed in range(seeds):
            plain = run_producer(
                ctx.scratch / "plain",
                ctx.rng(f"net-{seed}"),
                int(p["batches"]),
                int(p["per_batch"]),
                False,
                faults,
            )
            idem = run_producer(
                ctx.scratch / "idem",
                ctx.rng(f"net-{seed}"),
                int(p["batches"]),
                int(p["per_batch"]),
                True,
                faults,
            )
            txn = run_transactions(
                ctx.scratch / "txn",
                ctx.rng(f"txn-{seed}"),
                int(p["txns"]),
                int(p["per_txn"]),
                faults,
            )
            for key, value in (
                ("records", int(p["batches"]) * int(p["per_batch"])),
                ("retries", plain.retries + idem.retries),
                ("failovers", plain.failovers + idem.failovers),
                ("plain_duplicates", plain.duplicates),
                ("plain_gaps", plain.gaps),
                ("idempotent_duplicates", idem.duplicates),
                ("idempotent_gaps", idem.gaps),
                ("lost", plain.lost + idem.lost),
                ("committed_txns", txn.committed),
                ("aborted_txns", txn.aborted + txn.crashed),
                ("zombie_writes_accepted", txn.zombie_writes_accepted),
                ("read_committed_aborted", txn.rc_aborted_seen),
                ("read_committed_partial", txn.rc_partial),
                ("read_uncommitted_aborted", txn.ru_aborted_seen),
            ):
                totals[key] += value
            table.add(
                seed,
                plain.retries + idem.retries,
                plain.duplicates,
                plain.gaps,
                idem.duplicates,
                idem.gaps,
                txn.committed,
                txn.aborted + txn.crashed,
                txn.rc_aborted_seen,
            )
            task.advance()
    totals["seeds"] = seeds
    m = ExactlyOnceMeasurement(**totals)
    figure = Figure(
        "Anomalies in the log, summed over seeds",
        y_label="records",
        series=[
            Series(
                "without idempotence",
                ["duplicates", "gaps"],
                [m.plain_duplicates, m.plain_gaps],
                style="bar",
            ),
            Series(
                "with idempotence",
                ["duplicates", "gaps"],
                [m.idempotent_duplicates, m.idempotent_gaps],
                style="bar",
            ),
        ],
    )
    return Outcome(
        m,
        summary=f"retries made {m.plain_duplicates} duplicates and {m.plain_gaps} gaps without "
        f"idempotence, {m.idempotent_duplicates} and {m.idempotent_gaps} with it; read_committed "
        f"saw {m.read_committed_aborted} of {m.read_uncommitted_aborted} aborted records",
        tables=[table],
        figures=[figure],
    )
