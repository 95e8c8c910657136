"""Chapter 4.3 claims: MVCC bloat under an old snapshot, freezing and XID wraparound, and the
anomalies each isolation level lets through (with 5.1), measured on archlab's MVCC engine."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence

from archlab.lab import (
    Band,
    Column,
    Context,
    Figure,
    Heatmap,
    Judgement,
    Outcome,
    RefLine,
    Series,
    Table,
    Value,
    experiment,
    holds,
    nuanced,
    number,
    refuted,
)
from archlab.storage.mvcc.measure_bloat import BloatSample, run_bloat
from archlab.storage.mvcc.measure_freezing import FreezeRun, Hold, run_pgbench
from archlab.storage.mvcc.measure_isolation import PROMISE, WORKLOADS, Cell, measure
from archlab.storage.mvcc.settings import MvccSettings
from archlab.storage.mvcc.transaction import Isolation

# -- bloat ---------------------------------------------------------------------------------------


def judge_bloat(v: Mapping[str, Value]) -> Judgement:
    ratio = number(v, "dead_peak_ratio")
    removed = number(v, "removed_while_held")
    beyond = number(v, "removed_after_snapshot")
    peak = number(v, "dead_peak_held")
    slowdown = number(v, "scan_slowdown_held")
    after = number(v, "dead_after_ratio")
    pages = number(v, "pages_growth")
    scan_after = number(v, "scan_slowdown_after")
    if beyond > 0:
        return refuted(
            f"vacuum removed {beyond:.0f} versions that died after the old snapshot was taken, "
            f"while it was open: the snapshot did not hold the horizon back"
        )
    if ratio < 3:
        return refuted(
            f"dead versions peaked at only {ratio:.1f}x the level without the old snapshot"
        )
    text = (
        f"with an old snapshot open, dead versions reached {ratio:.0f}x the level without "
        f"it ({peak:.0f}) and vacuum removed none that died after the snapshot ({removed:.0f} "
        f"older ones), the heap grew {pages:.1f}x and "
        f"a full scan took {slowdown:.1f}x as long; after it ended dead versions fell back to "
        f"{after:.1f}x the baseline while the heap kept its size (scans {scan_after:.1f}x)"
    )
    if slowdown >= 1.5 and after <= 2.0:
        return holds(text)
    return nuanced(text)


@experiment(
    id="storage.mvcc.bloat",
    section="4.3",
    title="Bloat: a long-running transaction holds vacuum back",
    claim="""Updates in PostgreSQL leave the old row versions behind as dead tuples. Vacuum can
    only remove a dead version once no snapshot can see it, so one long-running transaction
    holding an old snapshot stops cleanup for the whole table: dead tuples pile up, the heap
    grows and every sequential scan slows down. When the transaction ends, vacuum removes the
    backlog, but the heap keeps its size: the freed space is reused, not returned.""",
    method="""A table of N rows receives one-row update transactions (read committed);
    autovacuum runs every `naptime` transactions with PostgreSQL's trigger (50 + 20% of the
    table's tuples dead). The same seeded updates run on two engines in lockstep: one alone,
    one with a repeatable-read transaction that takes its snapshot at 25% of the run and
    commits at 60%.
    Every `sample_every` transactions: dead versions in the heap (versions a new snapshot
    cannot see), heap pages, and the wall time of a full sequential scan (median of repeats).
    The verdict compares the window in which the snapshot is open and the time after it.""",
    judge=judge_bloat,
    profiles={
        "quick": {
            "rows": 500,
            "txns": 8000,
            "naptime": 100,
            "sample_every": 150,
            "scan_repeats": 3,
            "tuples_per_page": 32,
        },
        "full": {
            "rows": 5000,
            "txns": 100000,
            "naptime": 500,
            "sample_every": 1000,
            "scan_repeats": 5,
            "tuples_per_page": 64,
        },
    },
    references=[
        "PostgreSQL: vacuum removes only tuples deleted before the oldest running "
        "transaction's xmin (OldestXmin); autovacuum runs when dead tuples exceed "
        "autovacuum_vacuum_threshold (50) + autovacuum_vacuum_scale_factor (0.2) x reltuples; "
        "lazy vacuum truncates only empty pages at the end of the heap (REFERENCES.md, Storage).",
    ],
)
def bloat(ctx: Context) -> Outcome[dict[str, Value]]:
    p = ctx.params
    txns = int(p["txns"])
    window = (txns // 4, txns * 3 // 5)
    settings = MvccSettings(tuples_per_page=int(p["tuples_per_page"]))
    with ctx.progress.task("update workload, with and without an old snapshot", 1) as task:
        runs = run_bloat(
            rows=int(p["rows"]),
            txns=txns,
            naptime=int(p["naptime"]),
            sample_every=int(p["sample_every"]),
            scan_repeats=int(p["scan_repeats"]),
            scenarios={"no old snapshot": None, "old snapshot held": window},
            rng=ctx.rng("updates"),
            settings=settings,
        )
        task.advance()
    base, held = runs["no old snapshot"], runs["old snapshot held"]
    start, end = window
    late = (start + (end - start) * 2 // 3, end + 1)  # the last third of the window
    settle = end + 2 * int(p["naptime"])
    after = (settle, txns + 1)

    def mean(samples: Sequence[BloatSample], field: str) -> float:
        return statistics.fmean(getattr(s, field) for s in samples) if samples else 0.0

    def median_scan(samples: Sequence[BloatSample]) -> float:
        return statistics.median(s.scan_ms for s in samples) if samples else 0.0

    base_dead = mean(base.window(start, end + 1), "dead_versions")
    peak = max(s.dead_versions for s in held.window(start, end + 1))
    dead_after_base = mean(base.window(*after), "dead_versions")
    dead_after_held = mean(held.window(*after), "dead_versions")
    scan_base_late = median_scan(base.window(*late))
    scan_held_late = median_scan(held.window(*late))
    scan_base_after = median_scan(base.window(*after))
    scan_held_after = median_scan(held.window(*after))
    pages_start = held.samples[0].pages
    pages_peak = max(s.pages for s in held.samples)
    values: dict[str, Value] = {
        "dead_base_mean": round(base_dead, 1),
        "dead_peak_held": peak,
        "dead_peak_ratio": round(peak / max(base_dead, 1.0), 2),
        "removed_while_held": held.removed_between(start, end),
        "dead_at_hold": held.dead_at_hold,
        "removed_after_snapshot": max(0, held.removed_between(start, end) - held.dead_at_hold),
        "vacuum_pages_while_held": held.vacuum_pages_between(start, end),
        "scan_ms_base": round(scan_base_late, 4),
        "scan_ms_held": round(scan_held_late, 4),
        "scan_slowdown_held": round(scan_held_late / scan_base_late, 2),
        "dead_after_ratio": round(dead_after_held / max(dead_after_base, 1.0), 2),
        "scan_slowdown_after": round(scan_held_after / scan_base_after, 2),
        "pages_start": pages_start,
        "pages_peak": pages_peak,
        "pages_end": held.samples[-1].pages,
        "pages_end_base": base.samples[-1].pages,
        "pages_growth": round(pages_peak / max(pages_start, 1), 2),
    }
    table = Table(
        "Dead versions, heap size and scan time",
        [
            Column("run"),
            Column("dead versions, window mean"),
            Column("dead versions, window peak"),
            Column("versions vacuum removed in the window"),
            Column("pages vacuum read in the window"),
            Column("heap pages, peak"),
            Column("heap pages, end"),
            Column("scan, late window", "ms"),
            Column("scan, after", "ms"),
            Column("dead versions after"),
        ],
        note=f"Window: the old snapshot is open from transaction {start} to {end}; 'late "
        f"window' is its last third, 'after' starts {2 * int(p['naptime'])} transactions after "
        f"it ends. {p['rows']} rows, {p['tuples_per_page']} tuples per page.",
    )
    for name, run in runs.items():
        in_window = run.window(start, end + 1)
        table.add(
            name,
            round(mean(in_window, "dead_versions"), 1),
            max(s.dead_versions for s in in_window),
            run.removed_between(start, end),
            run.vacuum_pages_between(start, end),
            max(s.pages for s in run.samples),
            run.samples[-1].pages,
            round(median_scan(run.window(*late)), 4),
            round(median_scan(run.window(*after)), 4),
            round(mean(run.window(*after), "dead_versions"), 1),
        )
    band = [Band(start, end, "old snapshot open")]

    def over_time(title: str, field: str, y_label: str) -> Figure:
        return Figure(
            title,
            x_label="transactions",
            y_label=y_label,
            bands=band,
            series=[
                Series(
                    name,
                    [float(s.txns) for s in run.samples],
                    [float(getattr(s, field)) for s in run.samples],
                )
                for name, run in runs.items()
            ],
        )

    figures = [
        over_time("Dead versions in the heap", "dead_versions", "dead versions"),
        over_time("Heap size", "pages", "pages"),
        over_time("Full sequential scan time", "scan_ms", "ms (median of repeats)"),
    ]
    figures[0].caption = (
        "Autovacuum keeps dead versions near its threshold until the old snapshot pins the "
        "horizon; it removes the backlog at its first run after the snapshot ends."
    )
    return Outcome(
        values,
        summary=f"old snapshot: {values['dead_peak_ratio']}x dead versions, "
        f"{values['scan_slowdown_held']}x scan time, heap {values['pages_growth']}x; "
        f"after it: {values['dead_after_ratio']}x dead, heap stays {values['pages_end']} pages",
        tables=[table],
        figures=figures,
    )


# -- freezing and wraparound ---------------------------------------------------------------------


def judge_freezing(v: Mapping[str, Value]) -> Judgement:
    overshoot = number(v, "worst_age_overshoot")
    slack = number(v, "age_slack")
    refused = number(v, "refused_while_held")
    warn_at = number(v, "first_warning_remaining")
    stop_at = number(v, "first_refusal_remaining")
    resumed = number(v, "committed_after_release")
    lost_protected = number(v, "rows_missing_protected")
    lost_unprotected = number(v, "rows_missing_unprotected")
    clog_errors = number(v, "clog_errors_unprotected")
    fewer = number(v, "aggressive_count_small") > number(v, "aggressive_count_large")
    bigger = number(v, "pages_per_aggressive_small") < number(v, "pages_per_aggressive_large")
    if overshoot > slack:
        return refuted(
            f"XID age overshot autovacuum_freeze_max_age by {overshoot:.0f} XIDs "
            f"(more than one naptime, {slack:.0f})"
        )
    if refused == 0:
        return refuted("with vacuum blocked by an old transaction the engine kept assigning XIDs")
    text = (
        f"age stayed within {overshoot:.0f} XIDs of every autovacuum_freeze_max_age; "
        f"with an old transaction pinning the horizon, warnings began {warn_at:.0f} XIDs and "
        f"refusals {stop_at:.0f} XIDs before wraparound ({refused:.0f} XIDs refused), "
        f"{resumed:.0f} transactions committed once it ended; without the refusal "
        f"{lost_unprotected:.0f} committed rows vanished from scans and {clog_errors:.0f} "
        f"commit-log lookups failed (with it {lost_protected:.0f} rows); the smallest max age "
        f"ran "
        f"{number(v, 'aggressive_count_small'):.0f} aggressive vacuums of "
        f"{number(v, 'pages_per_aggressive_small'):.0f} pages, the largest "
        f"{number(v, 'aggressive_count_large'):.0f} of "
        f"{number(v, 'pages_per_aggressive_large'):.0f}"
    )
    if resumed > 0 and lost_protected == 0 and lost_unprotected > 0 and fewer and bigger:
        return holds(text)
    return nuanced(text)


@experiment(
    id="storage.mvcc.freezing",
    section="4.3",
    title="Freezing, anti-wraparound vacuum and XID exhaustion",
    claim="""In PostgreSQL, 32-bit transaction ids wrap around, so vacuum must freeze old
    tuples before the counter moves 2^31 past them. Autovacuum forces an anti-wraparound
    vacuum once the oldest unfrozen XID of a table is older than autovacuum_freeze_max_age,
    which keeps XID age bounded; raising that setting makes these vacuums rarer but each reads
    and rewrites more of the table. A long-running transaction blocks freezing: the distance to
    wraparound shrinks, warnings start 40 million XIDs before it and the database refuses new
    XIDs 3 million before it, until the transaction ends and vacuum freezes. Without that
    refusal, committed rows would disappear.""",
    method="""A pgbench-like workload (each transaction updates a random row of a hot
    `accounts` table and appends a row to an append-only `history` table) on archlab's engine
    in a scaled-down XID space: `xid_bits` bits, every XID setting divided by 2^(32 -
    xid_bits), PostgreSQL's proportions kept. One run per autovacuum_freeze_max_age (given in
    PostgreSQL's millions) records age(datfrozenxid) and every vacuum's pages read and dirtied.
    Then a repeatable-read transaction opened early is held until the engine has refused
    `refusals` XIDs, and released; the same run without the refusal (protection off) counts
    committed history rows a fresh scan no longer returns.""",
    judge=judge_freezing,
    profiles={
        "quick": {
            "xid_bits": 14,
            "freeze_max_ages_millions": [100, 200, 400, 1000],
            "run_millions": 1500,
            "accounts": 200,
            "naptime": 50,
            "blocked_xid_bits": 13,
            "refusals": 100,
            "audit_every": 250,
        },
        "full": {
            "xid_bits": 18,
            "freeze_max_ages_millions": [100, 200, 400, 1000, 1500],
            "run_millions": 3000,
            "accounts": 2000,
            "naptime": 200,
            "blocked_xid_bits": 16,
            "refusals": 1000,
            "audit_every": 1000,
        },
    },
    references=[
        "PostgreSQL: XIDs compared as (int32)(a - b) < 0, a 2^31 horizon; "
        "autovacuum_freeze_max_age 200M, vacuum_freeze_min_age 50M, vacuum_freeze_table_age "
        "150M; warnings 40M XIDs before wraparound, new XIDs refused 3M before it "
        "(varsup.c) (REFERENCES.md, Storage).",
    ],
)
def freezing(ctx: Context) -> Outcome[dict[str, Value]]:
    p = ctx.params
    bits = int(p["xid_bits"])
    base = MvccSettings.scaled(bits)
    naptime = int(p["naptime"])
    steps = base.scale_of(int(p["run_millions"]) * 1_000_000)
    sample_every = max(1, steps // 300)
    ages = [int(m) for m in p["freeze_max_ages_millions"]]
    runs: dict[int, FreezeRun] = {}
    with ctx.progress.task("pgbench-like runs", len(ages) + 2) as task:
        for millions in ages:
            settings = MvccSettings.scaled(
                bits, autovacuum_freeze_max_age=base.scale_of(millions * 1_000_000)
            )
            runs[millions] = run_pgbench(
                settings,
                accounts=int(p["accounts"]),
                steps=steps,
                naptime=naptime,
                sample_every=sample_every,
                rng=ctx.rng("pgbench"),
            )
            task.advance()
        blocked: dict[bool, FreezeRun] = {}
        blocked_bits = int(p["blocked_xid_bits"])
        for protection in (True, False):
            settings = MvccSettings.scaled(blocked_bits, wraparound_protection=protection)
            horizon = settings.space.horizon
            blocked[protection] = run_pgbench(
                settings,
                accounts=int(p["accounts"]),
                steps=horizon * 3 // 2,
                naptime=naptime,
                sample_every=max(1, horizon // 200),
                rng=ctx.rng("blocked"),
                hold=Hold(naptime, int(p["refusals"]), horizon + horizon // 16),
                audit_every=None if protection else int(p["audit_every"]),
            )
            task.advance()
    slack = 2 * naptime
    overshoot = max(run.max_age - run.settings.autovacuum_freeze_max_age for run in runs.values())
    small, large = runs[ages[0]], runs[ages[-1]]

    def aggressive(run: FreezeRun) -> list[int]:
        return [r.pages_read for _, r in run.vacuums if r.aggressive]

    def per_vacuum(run: FreezeRun) -> float:
        pages = aggressive(run)
        return statistics.fmean(pages) if pages else 0.0

    protected, unprotected = blocked[True], blocked[False]
    values: dict[str, Value] = {
        "xid_bits": bits,
        "xids_per_run": steps,
        "worst_age_overshoot": overshoot,
        "age_slack": slack,
        "aggressive_count_small": len(aggressive(small)),
        "aggressive_count_large": len(aggressive(large)),
        "pages_per_aggressive_small": round(per_vacuum(small), 1),
        "pages_per_aggressive_large": round(per_vacuum(large), 1),
        "warnings_in_normal_runs": sum(run.warnings for run in runs.values()),
        "first_warning_remaining": protected.first_warning_remaining or 0,
        "first_refusal_remaining": protected.first_refusal_remaining or 0,
        "warn_margin": protected.settings.xid_warn_margin,
        "stop_margin": protected.settings.xid_stop_margin,
        "refused_while_held": protected.refused_while_held,
        "committed_after_release": protected.committed_after_release,
        "rows_missing_protected": protected.rows_missing_peak,
        "rows_missing_unprotected": unprotected.rows_missing_peak,
        "clog_errors_protected": protected.clog_errors,
        "clog_errors_unprotected": unprotected.clog_errors,
    }
    unit = 2 ** (32 - bits)
    settings_table = Table(
        "XID age and freezing I/O by autovacuum_freeze_max_age",
        [
            Column("autovacuum_freeze_max_age", "PostgreSQL XIDs"),
            Column("scaled", "XIDs"),
            Column("max age(datfrozenxid)", "XIDs"),
            Column("anti-wraparound vacuums"),
            Column("aggressive vacuums"),
            Column("pages read per aggressive vacuum"),
            Column("pages dirtied by aggressive vacuums"),
            Column("pages read by regular vacuums"),
            Column("wraparound warnings"),
        ],
        note=f"{bits}-bit XID space: one XID here stands for {unit:,} of PostgreSQL's. "
        f"{steps:,} transactions per run ({int(p['run_millions'])}M in PostgreSQL's units); "
        f"autovacuum every {naptime} transactions. Aggressive vacuums are anti-wraparound "
        "ones plus regular ones that found the table older than vacuum_freeze_table_age.",
    )
    for millions, run in runs.items():
        aggr = [r for _, r in run.vacuums if r.aggressive]
        settings_table.add(
            f"{millions}M",
            run.settings.autovacuum_freeze_max_age,
            run.max_age,
            len(run.anti_wraparound()),
            len(aggr),
            round(per_vacuum(run), 1),
            sum(r.pages_dirtied for r in aggr),
            sum(r.pages_read for r in run.regular()),
            run.warnings,
        )
    blocked_unit = 2 ** (32 - blocked_bits)
    blocked_table = Table(
        "An old transaction blocks freezing",
        [
            Column("wraparound protection"),
            Column("first warning", "XIDs before wraparound"),
            Column("first refusal", "XIDs before wraparound"),
            Column("XIDs refused while it was open"),
            Column("commits after it ended"),
            Column("committed rows missing from a scan (peak)"),
            Column("failed commit-log lookups"),
        ],
        note=f"{blocked_bits}-bit XID space (1 XID = {blocked_unit:,} of PostgreSQL's): the "
        f"warn margin is {protected.settings.xid_warn_margin} XIDs (40M), the stop margin "
        f"{protected.settings.xid_stop_margin} (3M). The transaction opens after {naptime} "
        "transactions.",
    )
    for protection, run in blocked.items():
        blocked_table.add(
            "on (PostgreSQL)" if protection else "off (what the refusal prevents)",
            run.first_warning_remaining,
            run.first_refusal_remaining,
            run.refused_while_held,
            run.committed_after_release,
            run.rows_missing_peak,
            run.clog_errors,
        )
    age_figure = Figure(
        "XID age by autovacuum_freeze_max_age",
        x_label="XIDs consumed",
        y_label="age(datfrozenxid), XIDs",
        series=[
            Series(
                f"{m}M ({run.settings.autovacuum_freeze_max_age})",
                [float(pt.xids) for pt in run.points],
                [float(pt.age) for pt in run.points],
                style="step",
            )
            for m, run in runs.items()
        ],
        caption=f"Scaled {bits}-bit space; the legend gives each setting in PostgreSQL's "
        "millions and in scaled XIDs. Age drops when an aggressive vacuum advances relfrozenxid.",
    )
    io_figure = Figure(
        "Pages read per aggressive vacuum",
        y_label="pages",
        series=[
            Series(
                "mean pages read",
                [f"{m}M" for m in runs],
                [per_vacuum(r) for r in runs.values()],
                style="bar",
            ),
        ],
        caption="Anti-wraparound (and table-age) vacuums read every page not yet all-frozen.",
    )
    hold_band = (
        [
            Band(
                float(protected.hold_steps[0]),
                float(protected.hold_steps[1]),
                "old transaction open",
            )
        ]
        if protected.hold_steps
        else []
    )
    blocked_figure = Figure(
        "Distance to wraparound with an old transaction open",
        x_label="transactions attempted",
        y_label="XIDs before the wrap limit",
        bands=hold_band,
        ref_lines=[
            RefLine(float(protected.settings.xid_warn_margin), "warnings (40M)"),
            RefLine(float(protected.settings.xid_stop_margin), "refusal (3M)"),
        ],
        series=[
            Series(
                "protection on",
                [float(pt.step) for pt in protected.points],
                [float(pt.remaining) for pt in protected.points],
            ),
        ],
    )
    return Outcome(
        values,
        summary=f"age within {overshoot} XIDs of each max age; old transaction: warnings at "
        f"{values['first_warning_remaining']}, refusals at {values['first_refusal_remaining']} "
        f"XIDs before wraparound, {values['refused_while_held']} refused; unprotected: "
        f"{values['rows_missing_unprotected']} rows vanished",
        tables=[settings_table, blocked_table],
        figures=[age_figure, io_figure, blocked_figure],
    )


# -- the isolation table -------------------------------------------------------------------------

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


def judge_isolation(v: Mapping[str, Value]) -> Judgement:
    broken = number(v, "histories_breaking_promise")
    ser = number(v, "ser_histories_with_anomalies")
    rr_bad = number(v, "rr_histories_with_g_single_or_dirty")
    rc_dirty = number(v, "rc_histories_dirty")
    skew = number(v, "rr_write_skew_histories")
    nonrep = number(v, "rc_g_single_histories")
    lost = number(v, "rc_lost_updates")
    lost_snapshot = number(v, "snapshot_lost_updates")
    n = number(v, "histories_per_level")
    if broken or ser or rr_bad or rc_dirty or lost_snapshot:
        return refuted(
            f"the engine broke a level's promise: {broken:.0f} histories invalid for the level's "
            f"own model, {ser:.0f} serializable histories with anomalies, {rr_bad:.0f} repeatable "
            f"read histories with G-single or worse, {rc_dirty:.0f} read committed histories "
            f"with dirty reads or writes, {lost_snapshot:.0f} lost updates under snapshots"
        )
    text = (
        f"over {n:.0f} histories per level: serializable showed no anomaly; repeatable read "
        f"showed write skew (G2) in {skew:.0f} and never G-single, G0 or G1; read committed "
        f"showed G-single (non-repeatable reads, read skew) in {nonrep:.0f} and {lost:.0f} lost "
        f"updates, never G0 or G1"
    )
    if skew > 0 and nonrep > 0 and lost > 0:
        return holds(text)
    return nuanced(text + "; not every anomaly the weaker levels permit was observed")


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
    application sees them.""",
    judge=judge_isolation,
    profiles={
        "quick": {"seeds": 8, "clients": 4, "txns_per_client": 10},
        "full": {"seeds": 150, "clients": 5, "txns_per_client": 20},
    },
    references=[
        "Elle (Kingsbury & Alvaro, VLDB 2020): G0, G1a, G1b, G1c, G-single, G2 "
        "(REFERENCES.md, Consistency).",
        "PostgreSQL documentation, Transaction Isolation: read committed allows non-repeatable "
        "reads and phantoms; repeatable read (snapshot isolation) allows serialization "
        "anomalies; serializable uses SSI (Ports & Grittner, VLDB 2012).",
    ],
)
def isolation(ctx: Context) -> Outcome[dict[str, Value]]:
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

    def of(level: Isolation) -> list[Cell]:
        return [c for (lvl, _), c in cells.items() if lvl is level]

    def histories_with(level: Isolation, kinds: set[str] | frozenset[str]) -> int:
        return sum(c.histories_with(kinds) for c in of(level))

    rc, rr, ser = Isolation.READ_COMMITTED, Isolation.REPEATABLE_READ, Isolation.SERIALIZABLE
    all_kinds = {k for c in cells.values() for k in c.kinds}
    values: dict[str, Value] = {
        "histories_per_level": sum(c.histories for c in of(ser)),
        "histories_breaking_promise": sum(c.histories - c.valid_promised for c in cells.values()),
        "ser_histories_with_anomalies": sum(1 for c in of(ser) for found in c.per_history if found),
        "rr_histories_with_g_single_or_dirty": histories_with(
            rr, DIRTY | {"G-single", "G-single-realtime"}
        ),
        "rc_histories_dirty": histories_with(rc, DIRTY),
        "rr_write_skew_histories": cells[(rr, "doctors")].anomalies["G2"],
        "rr_uncovered_shifts": cells[(rr, "doctors")].uncovered_shifts,
        "rc_g_single_histories": sum(c.anomalies["G-single"] for c in of(rc)),
        "rc_lost_updates": cells[(rc, "rw-register")].lost_updates,
        "snapshot_lost_updates": cells[(rr, "rw-register")].lost_updates
        + cells[(ser, "rw-register")].lost_updates,
        "rc_half_transfer_audits": cells[(rc, "bank")].bad_audits,
        "rc_overdrawn_accounts": cells[(rc, "bank")].overdrawn,
        "ser_serialization_failures": sum(c.failures["SerializationFailure"] for c in of(ser)),
    }
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
        values,
        summary=f"serializable: {values['ser_histories_with_anomalies']} anomalous histories; "
        f"repeatable read: write skew in {values['rr_write_skew_histories']}; read committed: "
        f"G-single in {values['rc_g_single_histories']}, {values['rc_lost_updates']} lost updates",
        tables=[summary_table, detail],
        figures=[figure],
    )
