"""Codex 4.3 with 5.1: the isolation table, measured on archlab's MVCC engine.

The experiment records seeded histories of four workloads at each level (see
:mod:`archlab.storage.mvcc.measure_isolation`), checks them with archlab's isolation checker,
and judges :class:`IsolationMeasurement` by :func:`judge_isolation`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace

from archlab.lab import (
    Column,
    Context,
    Evidence,
    Figure,
    Heatmap,
    Judgement,
    Outcome,
    Table,
    Threshold,
    experiment,
    holds,
    nuanced,
    refuted,
)
from archlab.storage.mvcc.measure_isolation import PROMISE, WORKLOADS, Cell, measure
from archlab.storage.mvcc.postgres.beside import (
    UNMEASURED_ISOLATION,
    PostgresIsolation,
    isolation_beside,
)
from archlab.storage.mvcc.transaction import Isolation

#: What a level promises never to show, it must not show once.
NEVER = Threshold(
    0,
    "",
    "the level's promise: PostgreSQL's isolation table and Elle's anomaly definitions "
    "(docs/references.md §4.1–4.3) forbid it outright",
)
#: What a level permits must show at least once in workloads built to provoke it.
AT_LEAST_ONCE = Threshold(
    1,
    "",
    "PostgreSQL's isolation table (docs/references.md §4.1–4.3) permits it at this level, "
    "and the workload is built to provoke it",
)
#: The engine claims PostgreSQL's behaviour, so where PostgreSQL itself ran the same schedules
#: no cell may differ.
SAME_AS_POSTGRES = Threshold(
    0,
    "cells",
    "the engine models PostgreSQL's isolation levels: PostgreSQL itself, run on the same "
    "schedules (archlab mvcc compare-postgres), is the reference",
)

#: Anomaly kinds shown as columns of the isolation table, weakest prohibition last.
TABLE_KINDS = ("G0", "G1a", "G1b", "G1c", "G-single", "G2")
#: What no level may show (the history itself would be impossible, or dirty).
DIRTY = frozenset(
    {
        "G0",
        "G1a",
        "G1b",
        "G1c",
        "internal",
        "incompatible-order",
        "duplicate-elements",
        "garbage-read",
    }
)


@dataclass(frozen=True)
class IsolationMeasurement:
    """Counts over every history of every workload, per level (see the experiment's table)."""

    histories_per_level: int
    histories_breaking_promise: int  # invalid for the model their own level promises
    ser_histories_with_anomalies: int
    rr_histories_with_g_single_or_dirty: int
    rc_histories_dirty: int
    rr_write_skew_histories: int
    rr_uncovered_shifts: int
    rc_g_single_histories: int
    rc_lost_updates: int
    snapshot_lost_updates: int  # repeatable read and serializable together
    rc_half_transfer_audits: int
    rc_overdrawn_accounts: int
    ser_serialization_failures: int
    #: the anomaly schedules on archlab's engine and on a real PostgreSQL, when one could start
    postgres: PostgresIsolation = UNMEASURED_ISOLATION


def judge_isolation(m: IsolationMeasurement) -> Judgement:
    forbidden = (
        Evidence(
            "histories invalid for their own level's model",
            m.histories_breaking_promise,
            "histories",
            at_most=NEVER,
        ),
        Evidence(
            "serializable histories with any anomaly",
            m.ser_histories_with_anomalies,
            "histories",
            at_most=NEVER,
        ),
        Evidence(
            "repeatable read histories with G-single, G0 or G1",
            m.rr_histories_with_g_single_or_dirty,
            "histories",
            at_most=NEVER,
        ),
        Evidence(
            "read committed histories with G0 or G1 (dirty)",
            m.rc_histories_dirty,
            "histories",
            at_most=NEVER,
        ),
        Evidence(
            "lost updates under repeatable read and serializable",
            m.snapshot_lost_updates,
            "updates",
            at_most=NEVER,
        ),
    )
    if not all(e.met for e in forbidden):
        return refuted(
            f"the engine broke a level's promise: {m.histories_breaking_promise} histories "
            f"invalid for the level's own model, {m.ser_histories_with_anomalies} serializable "
            f"histories with anomalies, {m.rr_histories_with_g_single_or_dirty} repeatable read "
            f"histories with G-single or worse, {m.rc_histories_dirty} read committed histories "
            f"with dirty reads or writes, {m.snapshot_lost_updates} lost updates under snapshots",
            *forbidden,
        )
    permitted = (
        Evidence(
            "repeatable read histories with write skew (G2)",
            m.rr_write_skew_histories,
            "histories",
            at_least=AT_LEAST_ONCE,
        ),
        Evidence(
            "read committed histories with G-single (non-repeatable read, read skew)",
            m.rc_g_single_histories,
            "histories",
            at_least=AT_LEAST_ONCE,
        ),
        Evidence(
            "lost updates under read committed",
            m.rc_lost_updates,
            "updates",
            at_least=AT_LEAST_ONCE,
        ),
    )
    text = (
        f"over {m.histories_per_level} histories per level: serializable showed no anomaly; "
        f"repeatable read showed write skew (G2) in {m.rr_write_skew_histories} and never "
        f"G-single, G0 or G1; read committed showed G-single (non-repeatable reads, read skew) "
        f"in {m.rc_g_single_histories} and {m.rc_lost_updates} lost updates, never G0 or G1"
    )
    pg = m.postgres
    if not pg.available:
        text += f"; PostgreSQL was not measured ({pg.reason})"
        versus: tuple[Evidence, ...] = ()
    else:
        versus = (
            Evidence(
                "anomaly schedules whose outcome differs from PostgreSQL's",
                pg.mismatched_cells,
                "cells",
                at_most=SAME_AS_POSTGRES,
            ),
        )
        text += (
            f"; {pg.reason} gave the same outcome in {pg.cells - pg.mismatched_cells} of "
            f"{pg.cells} schedule cells"
        )
    if not all(e.met for e in permitted):
        return nuanced(
            text + "; not every anomaly the weaker levels permit was observed",
            *forbidden,
            *permitted,
            *versus,
        )
    if not all(e.met for e in versus):
        return nuanced(
            text + ": the engine does not behave as PostgreSQL does in every cell",
            *forbidden,
            *permitted,
            *versus,
        )
    return holds(text, *forbidden, *permitted, *versus)


def isolation_measurement(cells: Mapping[tuple[Isolation, str], Cell]) -> IsolationMeasurement:
    """The measurement from one :class:`Cell` per (level, workload)."""

    def of(level: Isolation) -> list[Cell]:
        return [c for (lvl, _), c in cells.items() if lvl is level]

    def histories_with(level: Isolation, kinds: set[str] | frozenset[str]) -> int:
        return sum(c.histories_with(kinds) for c in of(level))

    rc, rr, ser = Isolation.READ_COMMITTED, Isolation.REPEATABLE_READ, Isolation.SERIALIZABLE
    return IsolationMeasurement(
        histories_per_level=sum(c.histories for c in of(ser)),
        histories_breaking_promise=sum(c.histories - c.valid_promised for c in cells.values()),
        ser_histories_with_anomalies=sum(1 for c in of(ser) for found in c.per_history if found),
        rr_histories_with_g_single_or_dirty=histories_with(
            rr, DIRTY | {"G-single", "G-single-realtime"}
        ),
        rc_histories_dirty=histories_with(rc, DIRTY),
        rr_write_skew_histories=cells[(rr, "doctors")].anomalies["G2"],
        rr_uncovered_shifts=cells[(rr, "doctors")].uncovered_shifts,
        rc_g_single_histories=sum(c.anomalies["G-single"] for c in of(rc)),
        rc_lost_updates=cells[(rc, "rw-register")].lost_updates,
        snapshot_lost_updates=cells[(rr, "rw-register")].lost_updates
        + cells[(ser, "rw-register")].lost_updates,
        rc_half_transfer_audits=cells[(rc, "bank")].bad_audits,
        rc_overdrawn_accounts=cells[(rc, "bank")].overdrawn,
        ser_serialization_failures=sum(c.failures["SerializationFailure"] for c in of(ser)),
    )


@experiment(
    id="storage.mvcc.isolation",
    section="4.3",
    title="The isolation table, measured",
    claim="""The isolation levels of PostgreSQL differ in which anomalies they let through. Read
    committed takes a new snapshot per statement: no dirty reads, but non-repeatable reads, read
    skew and lost updates. Repeatable read is snapshot isolation: each transaction reads one
    snapshot and the first updater wins, so lost updates are gone, but write skew (G2) remains.
    Serializable adds SSI, which aborts a transaction of every dangerous structure, so its
    histories are serializable (codex 5.1).""",
    method="""Seeded histories recorded from archlab's engine, four workloads per level:
    Elle's list-append (with repeated reads), rw-register with read-modify-writes, bank
    transfers between ledgers with audits, and doctors on call. A scheduler interleaves 4
    clients' transactions statement by statement; autovacuum runs every 5 steps. Each history
    is checked by archlab's isolation checker (Elle's method) against serializability (to find
    every anomaly), against the level's own promise, and against strict serializability. Lost
    updates, half-transfer audits and uncovered shifts are counted from the history as the
    application sees them. Beside them, where a PostgreSQL server can be started, nine anomaly
    schedules run statement by statement on both engines at each level and every outcome is
    compared.""",
    judge=judge_isolation,
    rule="""refuted when any level shows, even once, what it promises never to show (a
    history invalid for its own model, an anomaly under serializable, G-single or a dirty
    anomaly under repeatable read, G0/G1 under read committed, a lost update under a snapshot):
    PostgreSQL's isolation table and Elle's definitions forbid each outright; holds when,
    beyond that, every anomaly the weaker levels permit showed at least once in the workloads
    built to provoke it (write skew under repeatable read; G-single and lost updates under
    read committed); nuanced when one of those never showed, or when PostgreSQL itself, run on
    the same anomaly schedules where a server can be started, gave a different outcome in any
    cell (a read, a commit, an error's SQLSTATE or the final rows).""",
    profiles={
        "quick": {"seeds": 8, "clients": 4, "txns_per_client": 10},
        "full": {"seeds": 150, "clients": 5, "txns_per_client": 20},
    },
    references=[
        "Elle (Kingsbury & Alvaro, VLDB 2020): G0, G1a, G1b, G1c, G-single, G2 "
        "(docs/references.md §4.1–4.3).",
        "PostgreSQL documentation, Transaction Isolation: read committed allows non-repeatable "
        "reads and phantoms; repeatable read (snapshot isolation) allows serialization "
        "anomalies; serializable uses SSI (Ports & Grittner, VLDB 2012).",
    ],
)
def isolation(ctx: Context) -> Outcome[IsolationMeasurement]:
    p = ctx.params
    seeds = range(ctx.seed * 100_000, ctx.seed * 100_000 + int(p["seeds"]))
    cells: dict[tuple[Isolation, str], Cell] = {}
    with ctx.progress.task("record and check histories", len(Isolation) * len(WORKLOADS)) as task:
        for level in Isolation:
            for workload in WORKLOADS:
                cells[(level, workload)] = measure(
                    level,
                    workload,
                    seeds,
                    clients=int(p["clients"]),
                    txns_per_client=int(p["txns_per_client"]),
                )
                task.advance()

    measured = isolation_measurement(cells)
    postgres, postgres_table = isolation_beside()
    measured = replace(measured, postgres=postgres)

    def of(level: Isolation) -> list[Cell]:
        return [c for (lvl, _), c in cells.items() if lvl is level]

    all_kinds = {k for c in cells.values() for k in c.kinds}
    summary_table = Table(
        "Anomalies the checker found, by level (histories in which each was seen)",
        [Column("level"), Column("promise checked"), Column("histories")]
        + [Column(k) for k in TABLE_KINDS]
        + [
            Column("other kinds"),
            Column("valid for the promise"),
            Column("lost updates"),
            Column("uncovered shifts"),
            Column("half-transfer audits"),
        ],
        note="Counts are histories (out of the level's total) in which the checker reported the "
        "kind when checking for serializability; '-realtime' kinds are cycles that also need "
        "real-time order (checked for strict serializability). Lost updates, uncovered "
        "shifts and half-transfer audits are counted from the histories as the application "
        "sees them.",
    )
    for level in Isolation:
        level_cells = of(level)
        counts = Counter[str]()
        for c in level_cells:
            counts.update(c.anomalies)
        other = sorted(k for k in counts if k not in TABLE_KINDS)
        summary_table.add(
            level.value,
            PROMISE[level],
            sum(c.histories for c in level_cells),
            *[counts[k] for k in TABLE_KINDS],
            ", ".join(f"{k} ({counts[k]})" for k in other) or "none",
            sum(c.valid_promised for c in level_cells),
            sum(c.lost_updates for c in level_cells),
            sum(c.uncovered_shifts for c in level_cells),
            sum(c.bad_audits for c in level_cells),
        )
    detail = Table(
        "Per level and workload",
        [
            Column("level"),
            Column("workload"),
            Column("committed", "%"),
            Column("serialization failures"),
            Column("deadlocks"),
            Column("anomaly kinds found"),
            Column("valid for the promise"),
            Column("valid strict-serializable"),
        ],
    )
    for (level, workload), c in cells.items():
        detail.add(
            level.value,
            workload,
            round(100 * c.committed / max(c.attempted, 1), 1),
            c.failures["SerializationFailure"],
            c.failures["DeadlockDetected"],
            ", ".join(sorted(c.kinds)) or "none",
            f"{c.valid_promised}/{c.histories}",
            f"{c.valid_strict}/{c.histories}",
        )
    kinds = [k for k in (*TABLE_KINDS, *sorted(all_kinds - set(TABLE_KINDS)))]
    heat_values = []
    heat_labels = []
    for level in Isolation:
        total = sum(c.histories for c in of(level))
        row = [sum(c.anomalies[k] for c in of(level)) / total for k in kinds]
        heat_values.append(row)
        heat_labels.append([f"{100 * x:.0f}%" for x in row])
    figure = Figure(
        "Share of histories in which each anomaly was found",
        heatmap=Heatmap(
            x_labels=kinds,
            y_labels=[level.value for level in Isolation],
            values=heat_values,
            cell_labels=heat_labels,
            colorbar_label="share of histories",
        ),
        caption="Checked against serializability, so every anomaly present is reported.",
    )
    return Outcome(
        measured,
        summary=f"serializable: {measured.ser_histories_with_anomalies} anomalous histories; "
        f"repeatable read: write skew in {measured.rr_write_skew_histories}; read committed: "
        f"G-single in {measured.rc_g_single_histories}, {measured.rc_lost_updates} lost updates",
        tables=[summary_table, detail, postgres_table],
        figures=[figure],
    )
