"""Showing estimates and reviews: rich tables for a terminal, Markdown, and JSON.

The three forms are built from the same rows (:func:`estimate_rows`), so they always show
the same numbers; each row carries the arithmetic that produced it, because the point of an
estimate is the reasoning as much as the result.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from archlab.design import units
from archlab.design.estimate import Estimate
from archlab.design.requirements import FIELDS, Requirements
from archlab.design.review import Review
from archlab.design.rules import Finding
from archlab.design.table1 import Implication, implications

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold blue"}


@dataclass(frozen=True)
class Row:
    group: str
    metric: str
    value: str
    how: str


def show_requirement(req: Requirements, name: str) -> str:
    value = getattr(req, name)
    if value is None:
        return "none"
    if name in {"read_size", "write_size"}:
        return units.format_bytes(value)
    if name == "retention":
        return units.format_duration(value)
    if name in {"availability", "cache_fraction"}:
        return units.format_fraction(value)
    if name == "latency_ms":
        return f"{value:g} ms"
    return units.format_count(value)


def _rate(bytes_per_s: float) -> str:
    bits = bytes_per_s * 8
    for unit, factor in (("Tbit/s", 1e12), ("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bits >= factor:
            return (
                f"{units.format_bytes(bytes_per_s)}/s ({units.format_count(bits / factor)} {unit})"
            )
    return f"{units.format_bytes(bytes_per_s)}/s"


def _plural(count: float, noun: str) -> str:
    return f"{count:g} {noun}{'' if count == 1 else 's'}"


def estimate_rows(est: Estimate) -> list[Row]:
    """Every derived number with the arithmetic behind it."""
    r = est.requirements
    dau = units.format_count(r.dau)
    peak = f"× peak factor {r.peak_factor:g}"
    read_size, write_size = units.format_bytes(r.read_size), units.format_bytes(r.write_size)
    reads = _plural(r.reads_per_user_per_day, "read")
    writes = _plural(r.writes_per_user_per_day, "write")
    days = f"{r.retention_days:,.0f} days"
    return [
        Row("traffic", "reads/s, average", units.format_count(est.read_qps_avg),
            f"{dau} DAU × {reads} ÷ 86,400 s"),
        Row("traffic", "reads/s, peak", units.format_count(est.read_qps_peak), peak),
        Row("traffic", "writes/s, average", units.format_count(est.write_qps_avg),
            f"{dau} DAU × {writes} ÷ 86,400 s"),
        Row("traffic", "writes/s, peak", units.format_count(est.write_qps_peak), peak),
        Row("traffic", "requests/s, peak", units.format_count(est.qps_peak), "reads + writes"),
        Row("bandwidth", "ingress, average", _rate(est.ingress_bytes_per_s_avg),
            f"writes/s × {write_size}"),
        Row("bandwidth", "ingress, peak", _rate(est.ingress_bytes_per_s_peak), peak),
        Row("bandwidth", "egress, average", _rate(est.egress_bytes_per_s_avg),
            f"reads/s × {read_size}"),
        Row("bandwidth", "egress, peak", _rate(est.egress_bytes_per_s_peak), peak),
        Row("storage", "new data per day (one copy)", units.format_bytes(est.ingest_bytes_per_day),
            f"{dau} DAU × {writes} × {write_size}"),
        Row("storage", "stored per day", units.format_bytes(est.storage_bytes_per_day),
            f"× {r.replication:g} copies"),
        Row("storage", "stored per year", units.format_bytes(est.storage_bytes_per_year),
            "× 365 days"),
        Row("storage", "data set after retention (one copy)", units.format_bytes(est.dataset_bytes),
            f"new data per day × {days}"),
        Row("storage", "stored after retention (all copies)",
            units.format_bytes(est.storage_bytes_total), f"× {r.replication:g} copies"),
        Row("memory", "hot-set cache", units.format_bytes(est.cache_bytes),
            f"{units.format_fraction(r.cache_fraction)} × "
            f"{units.format_bytes(est.read_bytes_per_day)} read per day"),
        Row("capacity", "servers", f"{est.servers_needed:,}",
            f"⌈peak requests/s ÷ {units.format_count(r.server_qps)} per server⌉"),
        Row("availability", "downtime allowed per year",
            units.format_duration(est.downtime_s_per_year),
            f"(1 − {units.format_fraction(r.availability)}) × 365 days"),
    ]  # fmt: skip


def estimate_json(est: Estimate) -> str:
    data = est.to_dict()
    data["implications"] = [i.to_dict() for i in implications(est)]
    return json.dumps(data, indent=2, allow_nan=False)


def _requirements_table(req: Requirements) -> Table:
    table = Table(title="Requirements", title_justify="left", title_style="bold")
    table.add_column("requirement")
    table.add_column("value", justify="right")
    table.add_column("")
    for f in FIELDS:
        table.add_row(
            f.name, show_requirement(req, f.name), "" if f.name in req.given else "[dim]default[/]"
        )
    return table


def _estimate_table(est: Estimate) -> Table:
    table = Table(title="Estimate", title_justify="left", title_style="bold")
    for name, justify in (("", "left"), ("metric", "left"), ("value", "right"), ("how", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    previous = ""
    for row in estimate_rows(est):
        table.add_row(
            "" if row.group == previous else row.group, row.metric, row.value, f"[dim]{row.how}[/]"
        )
        previous = row.group
    return table


def _implications_table(found: Sequence[Implication]) -> Table:
    table = Table(title="Table 1 implications", title_justify="left", title_style="bold")
    for name in ("§", "metric", "value", "threshold", "implication"):
        table.add_column(name, justify="right" if name == "value" else "left")
    for i in found:
        source = "" if i.source == "Table 1" else f" [dim]({i.source})[/]"
        table.add_row(i.section, i.metric, i.shown_value, i.shown_threshold, i.advice + source)
    return table


def print_estimate(console: Console, est: Estimate) -> None:
    console.print(_requirements_table(est.requirements))
    console.print(_estimate_table(est))
    console.print(_implications_table(implications(est)))


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def estimate_markdown(est: Estimate) -> str:
    req = est.requirements
    lines = ["## Estimate", "", "| requirement | value | |", "|---|---:|---|"]
    for f in FIELDS:
        lines.append(
            f"| {f.name} | {show_requirement(req, f.name)} | "
            f"{'' if f.name in req.given else 'default'} |"
        )
    lines += ["", "| | metric | value | how |", "|---|---|---:|---|"]
    for row in estimate_rows(est):
        lines.append(f"| {row.group} | {row.metric} | {row.value} | {_md_cell(row.how)} |")
    lines += _implications_markdown(implications(est))
    return "\n".join(lines) + "\n"


def _implications_markdown(found: Sequence[Implication]) -> list[str]:
    lines = [
        "",
        "### Table 1 implications",
        "",
        "| § | metric | value | threshold | implication |",
        "|---|---|---:|---|---|",
    ]
    for i in found:
        source = "" if i.source == "Table 1" else f" ({i.source})"
        lines.append(
            f"| {i.section} | {i.metric} | {i.shown_value} | {_md_cell(i.shown_threshold)} | "
            f"{_md_cell(i.advice)}{source} |"
        )
    return lines


def _counts(review: Review) -> str:
    parts = [f"{review.count(s)} {s}{'s' if review.count(s) != 1 else ''}" for s in
             ("error", "warning")]  # fmt: skip
    return f"{', '.join(parts)}, {review.count('info')} info"


def _finding_panel(f: Finding) -> Panel:
    body = Group(
        Text.assemble(("where: ", "dim"), f.where),
        Text.assemble(("triggered by: ", "dim"), f.trigger),
        Text.assemble(("why it matters: ", "dim"), f.why),
        Text.assemble(("alternative: ", "dim"), f.alternative),
        *(
            [Text.assemble(("measured by: ", "dim"), _measured_by(f.measured_by))]
            if f.measured_by
            else []
        ),
    )
    title = Text.assemble(
        (f.severity, SEVERITY_STYLE[f.severity]), f"  §{f.section}  {f.title}  ", (f.rule, "dim")
    )
    return Panel(body, title=title, title_align="left")


def _measured_by(experiments: tuple[str, ...], quote: str = "") -> str:
    """The commands that reproduce the measurements behind a finding."""
    return ", ".join(f"{quote}archlab run {e}{quote}" for e in experiments)


def print_review(console: Console, review: Review) -> None:
    design = review.design
    console.print(Text.assemble(("Review of ", "bold"), (design.name, "bold cyan"),
                                (f"  ({design.source})", "dim")))  # fmt: skip
    if design.description:
        console.print(Text(design.description, style="italic"))
    est = review.estimate
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="dim")
    summary.add_column(justify="right")
    for row in estimate_rows(est):
        if row.metric in _SUMMARY_METRICS:
            summary.add_row(row.metric, row.value)
    console.print(Panel(summary, title="estimate from the requirements", title_align="left",
                        expand=False))  # fmt: skip
    console.print(_implications_table(review.implications))
    console.print(Text(f"{len(review.findings)} findings: {_counts(review)}", style="bold"))
    for finding in review.findings:
        console.print(_finding_panel(finding))


_SUMMARY_METRICS = {
    "requests/s, peak",
    "writes/s, peak",
    "egress, peak",
    "data set after retention (one copy)",
    "hot-set cache",
    "servers",
    "downtime allowed per year",
}


def review_markdown(review: Review) -> str:
    design = review.design
    lines = [f"## Review of {design.name}", ""]
    if design.description:
        lines += [design.description, ""]
    lines += ["| metric | value |", "|---|---:|"]
    for row in estimate_rows(review.estimate):
        if row.metric in _SUMMARY_METRICS:
            lines.append(f"| {row.metric} | {row.value} |")
    lines += _implications_markdown(review.implications)
    lines += ["", f"### Findings: {_counts(review)}", ""]
    for f in review.findings:
        lines += [
            f"#### {f.severity}: {f.title} (§{f.section}, `{f.rule}`)",
            "",
            f"- **where:** `{f.path}`" + (f" (line {f.line})" if f.line is not None else ""),
            f"- **triggered by:** {f.trigger}",
            f"- **why it matters:** {f.why}",
            f"- **alternative:** {f.alternative}",
            *([f"- **measured by:** {_measured_by(f.measured_by, '`')}"] if f.measured_by else []),
            "",
        ]
    if not review.findings:
        lines.append("No rule is broken.")
    return "\n".join(lines).rstrip() + "\n"


def review_json(review: Review) -> str:
    data: dict[str, Any] = review.to_dict()
    return json.dumps(data, indent=2, allow_nan=False)
