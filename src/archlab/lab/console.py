"""Showing results in a terminal with rich: tables, verdict panels, benchmark ratios."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.panel import Panel
from rich.table import Table as RichTable
from rich.text import Text

from archlab.lab import format as fmt
from archlab.lab.bench import BenchReport
from archlab.lab.result import Result, Table

VERDICT_STYLE = {
    "holds": "bold green",
    "refuted": "bold red",
    "nuanced": "bold yellow",
    "error": "bold white on red",
}


def verdict_text(result: Result) -> Text:
    label = result.verdict if result.ok and result.verdict else "error"
    return Text(label, style=VERDICT_STYLE[label])


def table(t: Table) -> RichTable:
    out = RichTable(title=t.title, title_justify="left", title_style="bold", caption=t.note or None)
    for i, column in enumerate(t.columns):
        numeric = bool(t.rows) and all(fmt.is_numeric(r[i]) or r[i] is None for r in t.rows)
        out.add_column(column.label, justify="right" if numeric else "left")
    for row in t.rows:
        out.add_row(*(fmt.number(c) for c in row))
    return out


def show_result(console: Console, result: Result, figure_paths: Sequence[str] = ()) -> None:
    console.print(Text.assemble((f"§{result.section} ", "dim"), (result.title, "bold")))
    console.print(Text(result.claim, style="italic"))
    console.print()
    for t in result.tables:
        console.print(table(t))
        console.print()
    for path in figure_paths:
        console.print(f"[dim]figure:[/dim] {path}")
    if result.error:
        body = Text(f"the experiment failed: {result.error}")
    else:
        body = Text(result.reason)
        for e in result.evidence:
            mark = {True: "✓", False: "✗"}.get(e.get("met"), "·")  # type: ignore[arg-type]
            unit = e.get("unit") or ""
            unit = unit if unit in {"", "x", "%"} else f" {unit}"
            limit = f"  {e['comparison']}  ({e['source']})" if e.get("comparison") else ""
            body.append(f"\n{mark} {e['name']}: {fmt.number(e.get('value'))}{unit}{limit}", "dim")
        if not result.evidence:
            values = "  ".join(f"{k}={fmt.number(v)}" for k, v in result.values.items())
            body.append("\n" + values, "dim")
    console.print(Panel(body, title=verdict_text(result), title_align="left", expand=False))
    console.print(
        f"[dim]reproduce:[/dim] {result.command}   [dim]({fmt.duration(result.wall_time_s)})[/dim]"
    )


def show_bench(console: Console, title: str, report: BenchReport) -> None:
    out = RichTable(title=title, title_justify="left", title_style="bold")
    keys = [c.name for c in report.columns]
    for column in report.columns:
        numeric = any(fmt.is_numeric(row.get(column.name)) for row in report.rows)
        out.add_column(column.label, justify="right" if numeric else "left")
    for row in report.rows:
        out.add_row(*(fmt.number(row.get(k)) for k in keys))
    console.print(out)
    for r in report.ratios:
        if r.value is None:
            console.print(f"  {r.label}: [yellow]peer missing[/yellow]")
            continue
        spread = f" [dim](spread {r.spread_text})[/dim]" if r.spread is not None else ""
        goal = ""
        status = r.status
        if status is not None:
            colour = {"met": "green", "not met": "red", "not established": "yellow"}[status]
            goal = f"  (goal {r.goal_text}: [{colour}]{status}[/{colour}])"
        console.print(f"  {r.label}: [bold]{r.value:.2f}x[/bold]{spread}{goal}")
    if report.missing_peers:
        console.print(
            f"[yellow]missing peers, not measured:[/yellow] "
            f"{', '.join(report.missing_peers)}  (pip install -e '.[peers]')"
        )
    for note in report.notes:
        console.print(f"[dim]{note}[/dim]")
