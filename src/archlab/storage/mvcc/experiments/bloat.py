"""Codex 4.3, bloat: one long-running transaction holds vacuum back for the whole table.

The experiment runs the same seeded one-row updates on two engines in lockstep (see
:mod:`archlab.storage.mvcc.measure_bloat`), one of them with an old repeatable-read snapshot
open for a window of the run, and judges :class:`BloatMeasurement` by :func:`judge_bloat`.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from archlab.lab import (
    Band,
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
from archlab.storage.mvcc.measure_bloat import BloatRun, BloatSample, run_bloat
from archlab.storage.mvcc.postgres.beside import (
    UNMEASURED_BLOAT,
    PostgresBloat,
    bloat_beside,
)
from archlab.storage.mvcc.settings import MvccSettings

#: A version that died after the snapshot was taken may still be visible to it: removing even
#: one breaks the snapshot (PostgreSQL removes only versions deleted before OldestXmin).
NONE_REMOVED = Threshold(
    0,
    "versions",
    "physical bound: a version the open snapshot may still read must not be removed "
    "(PostgreSQL's OldestXmin rule, docs/references.md §4.1–4.3)",
)
#: With the horizon pinned, each update in the window leaves one dead version vacuum may not
#: remove, so the peak is at least the window's updates; 10% below allows the last sample to
#: fall one sampling step before the window closes.
PILE_UP = Threshold(
    0.9,
    "of the window's updates",
    "physical bound: each update while the snapshot is open leaves one dead version that "
    "vacuum may not remove (docs/references.md §4.1–4.3); 10% slack for the sampling step",
)
#: Scans must slow down beyond timing noise: the two runs' scans after the window, on equal
#: row counts, agree within a few per cent, and a median of 3 repeats on a shared machine
#: moves by up to ~30%.
SCAN_SLOWDOWN = Threshold(
    1.5,
    "x",
    "beyond the timing noise of a median scan on a shared machine (up to ~30%; the runs' "
    "scans after the window agree within a few per cent)",
)
#: After the snapshot ends, autovacuum's trigger (50 + 20% of the table's tuples) bounds the
#: dead versions again in both runs: at most twice the run without the old snapshot.
BACKLOG_CLEARED = Threshold(
    2.0,
    "x",
    "autovacuum's trigger, 50 + 0.2 x the table's tuples (PostgreSQL defaults, "
    "docs/references.md §4.1–4.3), bounds both runs again once the snapshot ends",
)
#: Lazy vacuum returns only empty pages at the end of the heap; with updates spread over every
#: page the heap should keep its size (space reused, not returned).
HEAP_KEPT = Threshold(
    0.9,
    "of the peak",
    "PostgreSQL's lazy vacuum truncates only empty pages at the heap's end "
    "(docs/references.md §4.1–4.3): a shrink of more than 10% would be space returned",
)


@dataclass(frozen=True)
class BloatMeasurement:
    """Dead versions, heap pages and scan times of the two runs, over the snapshot's window."""

    rows: int
    updates_held: int  # one-row updates while the old snapshot was open
    dead_base_mean: float  # run without the snapshot, mean over the window
    dead_base_peak: int
    dead_peak_held: int
    pile_up: float  # dead_peak_held / updates_held
    dead_peak_ratio: float  # dead_peak_held / dead_base_mean
    removed_while_held: int
    dead_at_hold: int
    removed_after_snapshot: int  # versions removed in the window beyond those dead at its start
    vacuum_pages_while_held: int
    scan_ms_base: float
    scan_ms_held: float
    scan_slowdown_held: float
    dead_after_ratio: float
    scan_slowdown_after: float
    pages_start: int
    pages_peak: int
    pages_end: int
    pages_end_base: int
    pages_growth: float
    heap_kept: float  # pages_end / pages_peak
    #: the same kind of updates on archlab's engine and a real PostgreSQL, when one could start
    postgres: PostgresBloat = UNMEASURED_BLOAT


def judge_bloat(m: BloatMeasurement) -> Judgement:
    removed = Evidence(
        "versions vacuum removed that died after the snapshot was taken",
        m.removed_after_snapshot,
        "versions",
        at_most=NONE_REMOVED,
    )
    pile = Evidence(
        "dead versions at the peak / updates while the snapshot was open",
        round(m.pile_up, 3),
        "",
        at_least=PILE_UP,
    )
    pg = m.postgres
    pg_pile: tuple[Evidence, ...] = ()
    if pg.available:
        pg_pile = (
            Evidence(
                "PostgreSQL: dead tuples after VACUUM with the snapshot held / updates",
                round(pg.held_postgres_dead / max(pg.updates, 1), 3),
                "",
                at_least=PILE_UP,
            ),
        )
        if not pg_pile[0].met:
            return refuted(
                f"{pg.reason} kept only {pg.held_postgres_dead} dead tuples after VACUUM for "
                f"{pg.updates} updates made while an old snapshot was open: the real server did "
                "not hold cleanup back",
                removed,
                pile,
                *pg_pile,
            )
    if not (removed.met and pile.met):
        return refuted(
            f"with the old snapshot open, vacuum removed {m.removed_after_snapshot} versions "
            f"that died after it was taken and dead versions peaked at {m.dead_peak_held} for "
            f"{m.updates_held} updates ({m.pile_up:.2f} of them): the snapshot did not hold "
            "cleanup back",
            removed,
            pile,
        )
    slowdown = Evidence(
        "full scan time, old snapshot / none (late window)",
        m.scan_slowdown_held,
        "x",
        at_least=SCAN_SLOWDOWN,
    )
    cleared = Evidence(
        "dead versions after the snapshot ended, old snapshot / none",
        m.dead_after_ratio,
        "x",
        at_most=BACKLOG_CLEARED,
    )
    kept = Evidence("heap pages at the end / at the peak", m.heap_kept, "", at_least=HEAP_KEPT)
    after = Evidence("full scan time after the window, old snapshot / none", m.scan_slowdown_after)
    text = (
        f"with an old snapshot open, dead versions reached {m.dead_peak_held} "
        f"({m.pile_up:.2f} of the window's {m.updates_held} updates, {m.dead_peak_ratio:.0f}x "
        f"the run without it) and vacuum removed none that died after the snapshot; the heap "
        f"grew {m.pages_growth:.1f}x and a full scan took {m.scan_slowdown_held:.1f}x as long; "
        f"after it ended dead versions fell back to {m.dead_after_ratio:.1f}x the baseline and "
        f"the heap kept {m.heap_kept:.0%} of its peak (scans {m.scan_slowdown_after:.1f}x)"
    )
    evidence = (removed, pile, *pg_pile, slowdown, cleared, kept, after)
    if pg.available:
        text += (
            f"; {pg.reason}, on {pg.updates} updates with a snapshot held, kept "
            f"{pg.held_postgres_dead} dead tuples after VACUUM (archlab {pg.held_archlab_dead}) "
            f"and {pg.released_postgres_dead} once it ended (archlab {pg.released_archlab_dead})"
        )
    else:
        text += f"; PostgreSQL was not measured ({pg.reason})"
    if slowdown.met and cleared.met and kept.met:
        return holds(text, *evidence)
    missing = [
        what
        for what, ok in (
            ("scans did not slow down beyond noise", slowdown.met),
            ("vacuum did not clear the backlog after the snapshot ended", cleared.met),
            ("the heap shrank after vacuum", kept.met),
        )
        if not ok
    ]
    return nuanced(text + "; but " + "; ".join(missing), *evidence)


def bloat_measurement(
    base: BloatRun, held: BloatRun, window: tuple[int, int], naptime: int
) -> BloatMeasurement:
    """The measurement from the run without (``base``) and with (``held``) the old snapshot."""
    start, end = window
    late = (start + (end - start) * 2 // 3, end + 1)  # the last third of the window
    after = (end + 2 * naptime, 1 << 62)

    def mean(samples: Sequence[BloatSample], field: str) -> float:
        return statistics.fmean(getattr(s, field) for s in samples) if samples else 0.0

    def median_scan(samples: Sequence[BloatSample]) -> float:
        return statistics.median(s.scan_ms for s in samples) if samples else 0.0

    base_dead = mean(base.window(start, end + 1), "dead_versions")
    peak = max(s.dead_versions for s in held.window(start, end + 1))
    scan_base_late = median_scan(base.window(*late))
    scan_held_late = median_scan(held.window(*late))
    pages_start = held.samples[0].pages
    pages_peak = max(s.pages for s in held.samples)
    removed = held.removed_between(start, end)
    return BloatMeasurement(
        rows=held.rows,
        updates_held=end - start,
        dead_base_mean=round(base_dead, 1),
        dead_base_peak=max(s.dead_versions for s in base.window(start, end + 1)),
        dead_peak_held=peak,
        pile_up=round(peak / max(end - start, 1), 3),
        dead_peak_ratio=round(peak / max(base_dead, 1.0), 2),
        removed_while_held=removed,
        dead_at_hold=held.dead_at_hold,
        removed_after_snapshot=max(0, removed - held.dead_at_hold),
        vacuum_pages_while_held=held.vacuum_pages_between(start, end),
        scan_ms_base=round(scan_base_late, 4),
        scan_ms_held=round(scan_held_late, 4),
        scan_slowdown_held=round(scan_held_late / max(scan_base_late, 1e-9), 2),
        dead_after_ratio=round(
            mean(held.window(*after), "dead_versions")
            / max(mean(base.window(*after), "dead_versions"), 1.0),
            2,
        ),
        scan_slowdown_after=round(
            median_scan(held.window(*after)) / max(median_scan(base.window(*after)), 1e-9), 2
        ),
        pages_start=pages_start,
        pages_peak=pages_peak,
        pages_end=held.samples[-1].pages,
        pages_end_base=base.samples[-1].pages,
        pages_growth=round(pages_peak / max(pages_start, 1), 2),
        heap_kept=round(held.samples[-1].pages / max(pages_peak, 1), 3),
    )


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
    The verdict compares the window in which the snapshot is open and the time after it.
    Beside it, where a PostgreSQL server can be started, the same kind of one-row updates run on
    archlab's engine and on PostgreSQL with and without an old repeatable-read snapshot, and
    dead tuples (pgstattuple) and pages are counted after VACUUM on both.""",
    judge=judge_bloat,
    rule="""refuted when vacuum removed any version that died after the old snapshot was
    taken (a physical bound: it may still be read) or when dead versions peaked below 0.9 of
    the updates made while it was open (each leaves one dead version vacuum may not remove),
    or, where a PostgreSQL server can be started, when PostgreSQL itself kept fewer than 0.9
    dead tuples per update after a VACUUM with an old snapshot held;
    otherwise holds when, in the snapshot's late window, a full scan took at least 1.5x as long
    as without it (beyond the timing noise), dead versions after it ended fell back to at most
    2x the run without it (autovacuum's 50 + 20% trigger bounds both again) and the heap kept
    at least 0.9 of its peak (lazy vacuum returns only empty trailing pages); nuanced when the
    snapshot held cleanup back but one of those three did not follow.""",
    profiles={
        "quick": {
            "rows": 500,
            "txns": 8000,
            "naptime": 100,
            "sample_every": 150,
            "scan_repeats": 3,
            "tuples_per_page": 32,
            "postgres_updates": 1000,
        },
        "full": {
            "rows": 5000,
            "txns": 100000,
            "naptime": 500,
            "sample_every": 1000,
            "scan_repeats": 5,
            "tuples_per_page": 64,
            "postgres_updates": 20000,
        },
    },
    references=[
        "PostgreSQL: vacuum removes only tuples deleted before the oldest running "
        "transaction's xmin (OldestXmin); autovacuum runs when dead tuples exceed "
        "autovacuum_vacuum_threshold (50) + autovacuum_vacuum_scale_factor (0.2) x reltuples; "
        "lazy vacuum truncates only empty pages at the end of the heap "
        "(docs/references.md §4.1–4.3).",
    ],
)
def bloat(ctx: Context) -> Outcome[BloatMeasurement]:
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
    measured = bloat_measurement(
        runs["no old snapshot"], runs["old snapshot held"], window, int(p["naptime"])
    )
    postgres, postgres_table = bloat_beside(
        rows=int(p["rows"]), updates=int(p["postgres_updates"]), seed=ctx.seed
    )
    measured = replace(measured, postgres=postgres)
    start, end = window
    late = (start + (end - start) * 2 // 3, end + 1)  # the last third of the window
    after = (end + 2 * int(p["naptime"]), txns + 1)

    def mean(samples: Sequence[BloatSample], field: str) -> float:
        return statistics.fmean(getattr(s, field) for s in samples) if samples else 0.0

    def median_scan(samples: Sequence[BloatSample]) -> float:
        return statistics.median(s.scan_ms for s in samples) if samples else 0.0

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
    m = measured
    return Outcome(
        measured,
        summary=f"old snapshot: {m.dead_peak_held} dead versions for {m.updates_held} updates "
        f"({m.dead_peak_ratio}x the run without it), {m.scan_slowdown_held}x scan time, heap "
        f"{m.pages_growth}x; after it: {m.dead_after_ratio}x dead, heap stays {m.pages_end} pages",
        tables=[table, postgres_table],
        figures=figures,
    )
