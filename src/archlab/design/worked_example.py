"""The codex's worked example of 2.2 (10M DAU × 1 KB a day), worked out by the estimator.

:func:`worked_example` turns the estimator's result for the example into the numbers the
``design.regime_map`` judge reads (:class:`ExampleNumbers`), a table setting them beside the
codex's own figures, the example's regime as reads are added, and its data set over time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archlab.design import table1, units
from archlab.design.estimate import Estimate, estimate
from archlab.design.requirements import Requirements
from archlab.lab import Column, Figure, RefLine, Series, Table

READ_MIXES = (0, 1, 2, 5, 10, 100)


@dataclass(frozen=True)
class ExampleNumbers:
    """The codex's example (10M DAU × 1 KB per user per day) worked out by the estimator."""

    qps_avg: float
    qps_peak: float
    throughput_regime: int  # a Regime, from peak QPS alone
    regime: int  # a Regime, from peak QPS and the retained data set
    regime_label: str
    dataset_tb: float  # retained, one copy
    stored_tb_all_copies: float
    years_to_10tb: float
    years_to_100tb: float
    years_to_100tb_replicated: float
    reads_budget_per_user: float  # reads per user per day before leaving a single instance


def worked_example(
    est: Estimate, p: Mapping[str, Any], reads: float, codex_qps: float
) -> tuple[ExampleNumbers, list[Table], Figure]:
    """The codex's example: its numbers, its read-mix sensitivity, its growth over time."""
    req = est.requirements
    one_copy_per_year = est.ingest_bytes_per_day * units.DAYS_PER_YEAR
    years_to = {
        "10tb": table1.DISTRIBUTED_STORAGE_BYTES / one_copy_per_year,
        "100tb": table1.DISTRIBUTED_ONLY_BYTES / one_copy_per_year,
        "100tb_replicated": table1.DISTRIBUTED_ONLY_BYTES / (one_copy_per_year * req.replication),
    }
    single_qps = table1.SINGLE_INSTANCE_QPS
    reads_budget = single_qps / req.peak_factor * units.SECONDS_PER_DAY / req.dau
    reads_budget -= req.writes_per_user_per_day
    by_throughput = table1.throughput_regime(est.qps_peak)
    combined = table1.regime_of(est)
    values = ExampleNumbers(
        qps_avg=round(est.qps_avg, 3),
        qps_peak=round(est.qps_peak, 3),
        throughput_regime=int(by_throughput),
        regime=int(combined),
        regime_label=combined.label,
        dataset_tb=round(est.dataset_bytes / 1e12, 4),
        stored_tb_all_copies=round(est.storage_bytes_total / 1e12, 4),
        years_to_10tb=round(years_to["10tb"], 3),
        years_to_100tb=round(years_to["100tb"], 3),
        years_to_100tb_replicated=round(years_to["100tb_replicated"], 3),
        reads_budget_per_user=round(reads_budget, 3),
    )
    numbers = Table(
        "The codex's example: 10M DAU × 1 KB per user per day",
        [Column("quantity"), Column("arithmetic"), Column("codex 2.2")],
        rows=[
            ["requests/s, average", f"{est.qps_avg:.0f}", f"{codex_qps:g} QPS"],
            [f"requests/s, peak ({req.peak_factor:g}x)", f"{est.qps_peak:.0f}", "–"],
            ["throughput regime", by_throughput.label, "sharding unnecessary for throughput"],
            ["new data per day", units.format_bytes(est.ingest_bytes_per_day), "1 KB × 10M"],
            [f"retained over {req.retention_days / 365:g} y, one copy",
             units.format_bytes(est.dataset_bytes), "may need sharding for storage"],
            [f"years until 10 TB (one copy; {req.replication:g} copies)",
             f"{years_to['10tb']:.1f}; {years_to['10tb'] / req.replication:.1f}", "–"],
            [f"years until 100 TB (one copy; {req.replication:g} copies)",
             f"{years_to['100tb']:.1f}; {years_to['100tb_replicated']:.1f}",
             "100 TB needs distributed storage"],
        ],
        note=f"The codex's {codex_qps:g} QPS is {codex_qps / est.qps_avg:.1f}x "
        f"the arithmetic's average, beyond the 2x that rounding explains: it fits "
        f"{codex_qps * units.SECONDS_PER_DAY / req.dau:.1f} requests per user per day, "
        f"or a {codex_qps / est.qps_avg:.1f}x peak; either way it is under 1k QPS.",
    )  # fmt: skip
    mix = Table(
        "The example's regime as reads are added (writes fixed at one 1 KB write per user)",
        [Column("reads per user per day"), Column("peak QPS"), Column("regime")],
    )
    for r in sorted({*READ_MIXES, reads}):
        mixed = estimate(
            Requirements(
                dau=req.dau,
                reads_per_user_per_day=r,
                writes_per_user_per_day=req.writes_per_user_per_day,
                write_size=req.write_size,
                retention=req.retention,
                peak_factor=req.peak_factor,
                replication=req.replication,
            )
        )
        mix.add(r, round(mixed.qps_peak, 1), table1.regime_of(mixed).label)
    years = [float(y) for y in range(31)]
    growth = Figure(
        "The example's data set over time: 10M DAU × 1 KB per day",
        x_label="years of retention",
        y_label="TB stored",
        series=[
            Series("one copy", years, [one_copy_per_year * y / 1e12 for y in years]),
            Series(
                f"{req.replication:g} copies",
                years,
                [one_copy_per_year * req.replication * y / 1e12 for y in years],
            ),
        ],
        ref_lines=[RefLine(10, "10 TB (Table 1)"), RefLine(100, "100 TB (codex 2.2)")],
    )
    return values, [numbers, mix], growth
