"""Chapter 2.2 claim: where Table 1's regimes fall, and the codex's 10M DAU × 1 KB example.

The experiment runs the estimator (:mod:`archlab.design.estimate`) over a grid of daily
active users (10^4 to 10^9) and per-user daily write volume, classifies every cell with
Table 1 (:func:`archlab.design.table1.regime`) and draws the regime map. It then places the
codex's worked example on the map and checks the two things the codex says of it: that its
throughput needs no sharding, and that its storage may.

Reading of the example (stated in the claim): each of the 10M users writes 1 KB a day as one
write; the codex mentions no reads, so the map counts writes only, and a second table shows
how many reads per user per day the example can add before leaving the single-instance
regime. The codex's "500 QPS" is compared with the arithmetic in the verdict: a figure more
than 2x from the arithmetic is not the same figure rounded, whatever regime it lands in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from archlab.design import table1, units
from archlab.design.estimate import estimate
from archlab.design.requirements import Requirements
from archlab.design.table1 import Regime
from archlab.design.worked_example import ExampleNumbers, worked_example
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

EXAMPLE = (1e7, 1000.0)  # the codex's example: 10M DAU, 1 KB per user per day
CODEX_EXAMPLE_QPS = 500.0  # the figure the codex's 2.2 paragraph gives for its example

#: How far a back-of-the-envelope figure may sit from the arithmetic and still be the same
#: figure: rounding to one significant figure moves a number by less than 1.5x, and taking a
#: day as 10^5 s instead of 86,400 s by 1.16x; 2x covers both, and nothing more.
ROUNDING = Threshold(
    2.0, "x", "arithmetic bound: one significant figure (< 1.5x) times a 10^5 s day (1.16x)"
)
#: Beyond the factor of 10 between Table 1's throughput rows, a figure is not an estimate of
#: the same order of magnitude and can put the design in another row (codex Table 1).
ORDER_OF_MAGNITUDE = Threshold(10.0, "x", "codex Table 1: its throughput rows are 10x apart")
#: Table 1's single-instance row: under 1k QPS one database (with replicas) suffices.
SINGLE_INSTANCE = Threshold(
    table1.SINGLE_INSTANCE_QPS, "QPS", "codex Table 1: < 1k QPS, a single instance with replicas"
)
#: Table 1's sharding row: past 10k QPS sharding or a heavy cache is required.
SHARDING = Threshold(
    table1.SHARDING_QPS, "QPS", "codex Table 1: > 10k QPS, sharding or heavy caching"
)


@dataclass(frozen=True)
class RegimeMapMeasurement:
    codex_qps: float
    retention_years: float
    example: ExampleNumbers
    #: Cells of each map (``size``: one write per user carrying the volume; ``count``: 1 KB
    #: writes) by regime name (``single_instance`` ...).
    cells: dict[str, dict[str, int]]


def judge_regime_map(m: RegimeMapMeasurement) -> Judgement:
    ex = m.example
    off = round(max(m.codex_qps / ex.qps_avg, ex.qps_avg / m.codex_qps), 3)
    figure = Evidence(
        "codex's QPS vs the arithmetic's average (larger / smaller)", off, "x", at_most=ROUNDING
    )
    peak = Evidence("peak QPS of the example", ex.qps_peak, "QPS", at_most=SINGLE_INSTANCE)
    storage = Evidence("retained data set, one copy", ex.dataset_tb, "TB")
    codex = (
        f"the codex's {m.codex_qps:g} QPS is {m.codex_qps / ex.qps_avg:.1f}x the "
        f"{ex.qps_avg:.0f} QPS average of one 1 KB write per user per day "
        f"({m.codex_qps / ex.qps_peak:.1f}x the {ex.qps_peak:.0f} QPS peak)"
    )
    if ex.qps_peak > SHARDING.value:
        over = Evidence("peak QPS of the example", ex.qps_peak, "QPS", at_most=SHARDING)
        return refuted(
            f"10M DAU × 1 KB peaks at {ex.qps_peak:.0f} QPS, past 10k: throughput alone needs "
            f"sharding or caching, unlike the codex's reading; {codex}",
            over,
            figure,
        )
    if off > ORDER_OF_MAGNITUDE.value:
        wide = Evidence(
            "codex's QPS vs the arithmetic's average (larger / smaller)",
            off,
            "x",
            at_most=ORDER_OF_MAGNITUDE,
        )
        return refuted(
            f"{codex}: more than an order of magnitude apart, so the codex's figure is not an "
            f"estimate of its own example",
            wide,
            peak,
        )
    if ex.qps_peak > SINGLE_INSTANCE.value:
        return nuanced(
            f"10M DAU × 1 KB peaks at {ex.qps_peak:.0f} QPS with this read mix: between Table 1's "
            f"rows, not clearly single-instance; {codex}",
            peak,
            figure,
        )
    storage_text = (
        f"its data set (one copy) passes 10 TB after {ex.years_to_10tb:.1f} years, so with "
        f"{m.retention_years:g} years of retention ({ex.dataset_tb:.1f} TB) storage, not "
        f"throughput, calls for sharding or a distributed store"
        if ex.dataset_tb > table1.DISTRIBUTED_STORAGE_BYTES / 1e12
        else f"its data set stays at {ex.dataset_tb:.1f} TB for {m.retention_years:g} years of "
        f"retention and would pass 10 TB only after {ex.years_to_10tb:.1f} years, so storage "
        f"too fits one instance here"
    )
    conclusion = (
        f"10M DAU × 1 KB lands in the single-instance regime ({ex.qps_peak:.0f} QPS at peak, "
        f"< 1k; it stays there up to {ex.reads_budget_per_user:.1f} reads per user per day); "
        f"{storage_text}; 100 TB (distributed storage) takes {ex.years_to_100tb_replicated:.1f} "
        f"years even with 3 copies"
    )
    if figure.met:
        return holds(f"{conclusion}; {codex}, within rounding", figure, peak, storage)
    return nuanced(
        f"the conclusion holds but the number does not: {codex}, beyond the {ROUNDING} that "
        f"rounding explains (it would need {m.codex_qps / ex.qps_avg:.1f} writes per user per "
        f"day, or that peak factor); {conclusion}",
        figure,
        peak,
        storage,
    )


def _label_dau(dau: float) -> str:
    exponent = math.log10(dau)
    return f"10^{exponent:g}" if exponent == int(exponent) else units.format_count(dau)


def _requirements(
    dau: float, volume: float, writes: float, reads: float, p: Mapping[str, Any]
) -> Requirements:
    return Requirements(
        dau=dau,
        reads_per_user_per_day=reads,
        writes_per_user_per_day=writes,
        write_size=volume / writes,
        retention=float(p["retention_years"]) * units.SECONDS_PER_YEAR,
        peak_factor=float(p["peak_factor"]),
        replication=float(p["replication"]),
    )


@experiment(
    id="design.regime_map",
    section="2.2",
    title="Table 1 regimes by scale, and the 10M DAU × 1 KB example",
    claim="""Back-of-the-envelope numbers decide the architecture (Table 1). The worked example of
    the codex, 10 million daily users who each produce 1 KB a day, is about 500 QPS: no sharding is
    needed for throughput, though storage capacity may still call for it, while a data set
    of 100 TB needs distributed storage.""",
    method="""The estimator is run over a grid of daily active users (10^4 to 10^9) and per-user
    daily write volume, read two ways: one write per user per day whose size is the volume,
    and writes of 1 KB, as many as the volume needs. Reads are as set by
    reads_per_user_per_day, none by default since the codex's example names none; the
    example's regime is also shown as reads are added. Both maps use
    a 3x peak factor, 3 copies and 5 years of retention. Each cell is classified by Table 1
    on peak QPS (< 1k single instance; 1k–10k replicas, the rows' gap; > 10k sharding or
    cache) and on the retained data set of one copy (> 10 TB: distributed storage). The
    verdict places 10M DAU × 1 KB on the map and compares the arithmetic with the codex's
    500 QPS.""",
    judge=judge_regime_map,
    rule="""The codex's 500 QPS is compared with the arithmetic's average QPS of its example (10M
    users × one 1 KB write a day; the codex names no peak factor). Tolerance 2x: rounding to one
    significant figure moves a number by under 1.5x and a 10^5 s day by 1.16x. refuted when
    the example's peak passes 10k QPS (Table 1: sharding needed for throughput) or the codex's
    figure is more than 10x from the arithmetic (Table 1's rows are 10x apart). nuanced when
    the peak falls between 1k and 10k (between Table 1's rows), or when the conclusion holds
    (peak < 1k QPS, Table 1's single instance) but the codex's figure is more than 2x off.
    holds when the peak is under 1k QPS and the codex's figure is within 2x. Storage (10 TB,
    100 TB) is reported: the codex says it only "might" call for sharding.""",
    ranges={"peak_factor": (1.0, None)},  # a peak below the average is no peak
    profiles={
        "quick": {
            "dau_exponents": [4.0 + 0.5 * i for i in range(11)],
            "volumes_bytes": [100, 1000, 10_000, 100_000, 1_000_000, 10_000_000],
            "writes_per_user_per_day": 1.0,
            "write_size_bytes": 1000,
            "reads_per_user_per_day": 0.0,
            "peak_factor": 3.0,
            "replication": 3,
            "retention_years": 5.0,
        },
        "full": {
            "dau_exponents": [4.0 + 0.25 * i for i in range(21)],
            "volumes_bytes": [
                100,
                300,
                1000,
                3000,
                10_000,
                30_000,
                100_000,
                300_000,
                1_000_000,
                3_000_000,
                10_000_000,
            ],
            "writes_per_user_per_day": 1.0,
            "write_size_bytes": 1000,
            "reads_per_user_per_day": 0.0,
            "peak_factor": 3.0,
            "replication": 3,
            "retention_years": 5.0,
        },
    },
    references=[
        "Codex 2.2 and Table 1: < 1k QPS single instance with replicas, > 10k QPS sharding or "
        "caching, > 10 TB sharding or a distributed file system, 100 TB distributed storage.",
    ],
)
def regime_map(ctx: Context) -> Outcome[RegimeMapMeasurement]:
    p = ctx.params
    dau_values = [10 ** float(e) for e in p["dau_exponents"]]
    volumes = [float(v) for v in p["volumes_bytes"]]
    writes = float(p["writes_per_user_per_day"])
    write_size = float(p["write_size_bytes"])
    reads = float(p["reads_per_user_per_day"])
    x_labels = [units.format_bytes(v) for v in volumes]
    y_labels = [_label_dau(d) for d in dau_values]
    # Two readings of "more data per user": bigger writes, or more writes of a fixed size.
    shapes: dict[str, tuple[str, Callable[[float], float]]] = {
        "size": ("one write per user per day carrying it all" if writes == 1 else
                 f"{writes:g} writes per user per day sharing it", lambda volume: writes),
        "count": (f"writes of {units.format_bytes(write_size)}, volume ÷ "
                  f"{units.format_bytes(write_size)} of them per user per day",
                  lambda volume: volume / write_size),
    }  # fmt: skip
    grids: dict[str, list[list[Regime]]] = {}
    with ctx.progress.task("regime map", len(shapes) * len(dau_values)) as task:
        for shape, (_, writes_for) in shapes.items():
            grid = []
            for dau in dau_values:
                row = []
                for volume in volumes:
                    req = _requirements(dau, volume, writes_for(volume), reads, p)
                    row.append(table1.regime_of(estimate(req)))
                grid.append(row)
                task.advance()
            grids[shape] = grid
    figures, tables = [], []
    for shape, (description, _) in shapes.items():
        grid = grids[shape]
        figures.append(
            Figure(
                f"Table 1 regime by DAU and data written per user per day ({shape})",
                x_label=f"data written per user per day: {description}",
                y_label="daily active users",
                heatmap=Heatmap(
                    x_labels=x_labels,
                    y_labels=y_labels,
                    values=[[float(r) for r in row] for row in grid],
                    cell_labels=[
                        [
                            r.short + ("*" if (d, v) == EXAMPLE else "")
                            for v, r in zip(volumes, row, strict=True)
                        ]
                        for d, row in zip(dau_values, grid, strict=True)
                    ],
                    categories=[r.label for r in Regime],
                ),
                caption=f"* the codex's example (10M DAU × 1 KB). {p['retention_years']:g} years "
                f"retained (one copy compared with 10 TB), peak {p['peak_factor']:g}x average, "
                f"{reads:g} reads per user per day. single: one instance with replicas; shard: "
                "sharding or caching; dist.: sharding or distributed storage.",
            )
        )
        tables.append(
            Table(
                f"Regime per cell, {description}",
                [Column("DAU"), *(Column(label) for label in x_labels)],
                rows=[
                    [label, *(r.label for r in row)]
                    for label, row in zip(y_labels, grid, strict=True)
                ],
            )
        )
    example = estimate(_requirements(*EXAMPLE, 1.0, reads, p))
    numbers, example_tables, growth = worked_example(example, p, reads, CODEX_EXAMPLE_QPS)
    measured = RegimeMapMeasurement(
        codex_qps=CODEX_EXAMPLE_QPS,
        retention_years=float(p["retention_years"]),
        example=numbers,
        cells={
            shape: {r.name.lower(): sum(row.count(r) for row in grid) for r in Regime}
            for shape, grid in grids.items()
        },
    )
    summary = (
        f"10M DAU × 1 KB: {numbers.qps_peak:.0f} QPS at peak "
        f"({Regime(numbers.throughput_regime).label} for throughput), "
        f"{numbers.dataset_tb:.1f} TB retained → {numbers.regime_label}; the codex's "
        f"{CODEX_EXAMPLE_QPS:g} QPS is {CODEX_EXAMPLE_QPS / numbers.qps_avg:.1f}x the average"
    )
    return Outcome(
        measured,
        summary=summary,
        tables=[*example_tables, *tables],
        figures=[figures[0], growth, figures[1]],
    )
