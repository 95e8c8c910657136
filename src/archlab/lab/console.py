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

#: Measured values shown under a verdict that cites no evidence; the rest are in --json.
SHOWN_VALUES = 12

VERDICT_STYLE = {
    "holds": "bold green",
    "refuted": "bold red",
    "nuanced": "bold yellow",
    "error": "bold white on red",
}


def verdict_text(result: Result) -> Text:
    label = result.verdict if result.ok and result.verdict else "error"
    return Text(label, style=VERDICT_STYLE[label])


def table(t: Table, width: int | None = None) -> RichTable:
    """``t`` as a rich table; one too wide for ``width`` columns is shown one record a block."""
    notes = [fmt.prose(t.note)] if t.note else []
    notes += fmt.percent_notes([c.label for c in t.columns], [c.unit for c in t.columns], t.rows)
    caption = "\n".join(notes) or None
    if width is not None and _needed_width(t) > width:
        return _records(t, caption)
    out = RichTable(
        title=t.title,
        title_justify="left",
        title_style="bold",
        caption=caption,
        caption_justify="left",
    )
    for i, column in enumerate(t.columns):
        numeric = bool(t.rows) and all(fmt.is_numeric(r[i]) or r[i] is None for r in t.rows)
        out.add_column(column.label, justify="right" if numeric else "left")
    for row in t.rows:
        out.add_row(*(_cell(c) for c in row))
    return out


def _cell(value: object) -> str:
    return fmt.prose(value) if isinstance(value, str) else fmt.number(value)  # type: ignore[arg-type]


def _needed_width(t: Table) -> int:
    """Columns wide enough that no header word and no cell is cut, plus rich's borders."""
    total = 1
    for i, column in enumerate(t.columns):
        words = max((len(w) for w in column.label.split()), default=1)
        cells = max((len(_cell(r[i])) for r in t.rows), default=1)
        total += max(words, cells) + 3
    return total


def _records(t: Table, caption: str | None) -> RichTable:
    """A wide table as blocks, one per row: each column's label and value on a line."""
    out = RichTable(
        title=t.title,
        title_justify="left",
        title_style="bold",
        caption=caption,
        caption_justify="left",
        show_header=False,
    )
    out.add_column("field", style="dim")
    out.add_column("value")
    for n, row in enumerate(t.rows):
        if n:
            out.add_section()
        for column, value in zip(t.columns, row, strict=True):
            out.add_row(column.label, _cell(value))
    return out


def show_result(console: Console, result: Result, figure_paths: Sequence[str] = ()) -> None:
    console.print(Text.assemble((f"§{result.section} ", "dim"), (result.title, "bold")))
    console.print(Text(fmt.prose(result.claim), style="italic"))
    console.print()
    for t in result.tables:
        console.print(table(t, console.width))
        console.print()
    for path in figure_paths:
        console.print(Text.assemble(("figure: ", "dim"), path), soft_wrap=True)
    if result.error:
        body = Text(f"the experiment failed: {result.error}")
    else:
        body = Text(fmt.prose(result.reason))
        for e in result.evidence:
            mark = {True: "✓", False: "✗"}.get(e.get("met"), "·")  # type: ignore[arg-type]
            unit = e.get("unit") or ""
            unit = unit if unit in {"", "x", "%"} else f" {unit}"
            limit = f"  {e['comparison']}  ({e['source']})" if e.get("comparison") else ""
            line = f"{mark} {e['name']}: {fmt.number(e.get('value'))}{unit}{limit}"
            body.append("\n" + fmt.prose(line), "dim")
        if not result.evidence and result.values:
            items = list(result.values.items())
            values = "  ".join(f"{k}={fmt.number(v)}" for k, v in items[:SHOWN_VALUES])
            more = len(items) - SHOWN_VALUES
            if more > 0:
                values += f"  … and {more} more (--json shows them all)"
            body.append(f"\nmeasurements ({len(items)}): {values}", "dim")
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
