"""``archlab check``: is a history linearizable, or serializable? (codex 5.1)

Exit codes: 0 the history is valid, 1 an anomaly was found, 2 bad input (a malformed line is
reported with its number and what was expected, an empty history unless ``--allow-empty``,
malformed ``--initial`` JSON), 3 unknown (a limit was reached first, or
there was nothing to judge). ``--json`` prints one object with at least ``valid`` (true,
false or "unknown") and ``anomalies``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from archlab.check import history as hist
from archlab.check.anomalies import CONSISTENCY_MODELS, Anomaly, txn_where
from archlab.check.history import Event
from archlab.check.isolation import IsolationResult, check_isolation
from archlab.check.linearizability import KeyResult, LinearizabilityResult, check_linearizable
from archlab.check.models import model_names
from archlab.check.transactions import WORKLOADS
from archlab.errors import ConfigError
from archlab.lab.format import duration

EXIT = {True: 0, False: 1, "unknown": 3}
SHOWN_PREFIX = 12  # operations of the longest linearizable prefix shown in the terminal


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


_BARE_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _parse_initial(text: str | None) -> Any:
    """``--initial`` as JSON; a bare word (``idle``) is a string, malformed JSON is an error."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if _BARE_WORD.match(text):
            return text
        raise ConfigError(
            f"--initial {text!r} is not valid JSON ({exc.msg} at column {exc.colno}); "
            "quote a string as '\"text\"'"
        ) from None
    return hist.parse_event({"process": 0, "type": "ok", "f": "x", "value": value}, "", 0).value


@click.group("check", context_settings={"help_option_names": ["-h", "--help"]})
def check() -> None:
    """Check a history for linearizability or transactional isolation (codex 5.1).

    A history is JSON Lines, one event a line (see docs/architecture.md): invoke, then ok, fail
    or info. Exit status: 0 valid, 1 anomaly found, 2 bad input, 3 unknown.

    \b
    Examples:
      archlab check linearizable --model cas-register history.jsonl
      archlab check isolation --model list-append --consistency serializable txns.jsonl
    """


@check.command("linearizable")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--model",
    default="kv",
    show_default=True,
    help=f"The sequential object: {', '.join(model_names())} (or one a chapter registered).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as one JSON object.")
@click.option(
    "--timeline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the history as a self-contained HTML timeline, unplaced ops in red.",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds before the search gives up with 'unknown' (exit 3).",
)
@click.option(
    "--max-steps",
    type=click.IntRange(min=1),
    default=None,
    help="Model steps before the search gives up with 'unknown'.",
)
@click.option(
    "--initial",
    default=None,
    metavar="VALUE",
    help="The object's value before the history, as JSON (default null; a bare word is a string).",
)
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Accept a history with no events (valid, exit 0) instead of exit 2.",
)
def linearizable_command(
    file: Path,
    model: str,
    as_json: bool,
    timeline: Path | None,
    time_limit: float,
    max_steps: int | None,
    initial: str | None,
    allow_empty: bool,
) -> None:
    """Is the history linearizable for MODEL?

    Wing & Gong's search with Lowe's memoisation; a kv history is checked key by key, and
    may use get / put / append (a string appended) as the 6.824 and Porcupine key-value
    histories do, as JSON lines or their EDN maps. An info (timed-out) operation may take
    effect any time after its invocation, or never; a failed read or write did not take
    effect; a failed cas completed with its compare failing.

    \b
    Examples:
      archlab check linearizable --model register history.jsonl
      archlab check linearizable --model kv --json history.jsonl | jq .valid
      archlab check linearizable --model cas-register --initial 0 --timeline t.html h.jsonl
      archlab check linearizable --time-limit 5 big.jsonl
      archlab check linearizable --model kv c01-ok.txt      # Porcupine kv test data
    """
    initial_value = _parse_initial(initial)
    events = hist.load(file)
    _refuse_empty(file, events, allow_empty)
    result = check_linearizable(
        events,
        model,
        initial=initial_value,
        time_limit=time_limit,
        max_steps=max_steps,
        source=str(file),
    )
    if timeline is not None:
        _write_timeline_linearizable(timeline, events, result, file)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _show_linearizable(_console(), result, timeline)
    sys.exit(EXIT[result.valid])


def _refuse_empty(file: Path, events: list[Event], allow_empty: bool) -> None:
    """An empty history is almost always a mistake (a wrong path, a run that wrote nothing)."""
    if events:
        return
    if not allow_empty:
        raise ConfigError(
            f"{file}: the history is empty, so there is nothing to check "
            "(--allow-empty accepts it as valid)"
        )
    click.echo(f"archlab: warning: {file}: the history is empty (nothing to check)", err=True)


def _write_timeline_linearizable(
    path: Path, events: list[Event], result: LinearizabilityResult, file: Path
) -> None:
    from archlab.check.timeline import render_timeline

    failure = result.failures[0] if result.failures else None
    verdict = {True: "linearizable", False: "NOT linearizable", "unknown": "unknown"}
    notes = [a["explanation"] for a in result.anomalies] or [result.reason or verdict[True]]
    page = render_timeline(
        events,
        title=f"{file.name}: {verdict[result.valid]} ({result.model.name})",
        highlight=result.highlight,
        notes=notes,
        order=[op.index for op in failure.linearization] if failure else (),
    )
    path.write_text(page, encoding="utf-8")


def _show_linearizable(
    console: Console, result: LinearizabilityResult, timeline: Path | None
) -> None:
    model = result.model
    keys = len(result.keys)
    facts = (
        f"{model.name}, {result.operations:,} operations, {keys} key{'s' * (keys != 1)}, "
        f"{result.steps:,} search steps, {duration(result.elapsed_s)}"
    )
    if result.valid is True:
        console.print(Text.assemble(("✓ linearizable", "bold green"), f"  ({facts})"))
    elif result.valid == "unknown":
        console.print(Text.assemble(("? unknown", "bold yellow"), f"  ({facts})"))
        console.print(f"  {result.reason}; raise --time-limit or --max-steps to search longer")
    else:
        console.print(Text.assemble(("✗ not linearizable", "bold red"), f"  ({facts})"))
        for key in result.failures:
            _show_failure(console, result, key)
    if keys > 1:
        tally = {
            label: sum(1 for k in result.keys if k.valid is value)
            for label, value in (("linearizable", True), ("not", False), ("not checked", None))
        }
        tally["unknown"] = sum(1 for k in result.keys if k.valid == "unknown")
        console.print(
            "  keys: " + ", ".join(f"{n} {label}" for label, n in tally.items() if n),
            style="dim",
        )
    if timeline is not None:
        console.print(f"[dim]timeline:[/dim] {timeline}")


def _show_failure(console: Console, result: LinearizabilityResult, key: KeyResult) -> None:
    model = result.model
    console.print()
    console.print(Text(result.explain(key)))
    prefix = key.linearization
    console.print(
        f"[bold]longest linearizable prefix[/bold] ({len(prefix)} operations"
        + (f", the last {SHOWN_PREFIX} shown)" if len(prefix) > SHOWN_PREFIX else ")")
    )
    table = Table()
    for column in ("#", "process", "line", "operation"):
        table.add_column(column, justify="right" if column in ("#", "line") else "left")
    start = max(0, len(prefix) - SHOWN_PREFIX)
    for position, op in enumerate(prefix[start:], start + 1):
        table.add_row(str(position), str(op.process), str(op.invoke.line or ""), model.describe(op))
    console.print(table)
    console.print(f"  after it, {result.holder(key)} holds {model.describe_state(key.state)}")
    console.print("[bold red]could not be placed[/bold red]")
    stuck = Table()
    for column in ("process", "line", "operation"):
        stuck.add_column(column, justify="right" if column == "line" else "left")
    for op in key.unplaced:
        style = "bold red" if key.blocked is not None and op.index == key.blocked.index else ""
        stuck.add_row(str(op.process), str(op.invoke.line or ""), model.describe(op), style=style)
    console.print(stuck)


@check.command("isolation")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--model",
    "workload",
    type=click.Choice(WORKLOADS),
    default="list-append",
    show_default=True,
    help="The workload the history records.",
)
@click.option(
    "--consistency",
    type=click.Choice(CONSISTENCY_MODELS),
    default="serializable",
    show_default=True,
    help="The consistency model to check against.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as one JSON object.")
@click.option(
    "--timeline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the history as an HTML timeline, transactions in forbidden anomalies in red.",
)
def isolation_command(
    file: Path, workload: str, consistency: str, as_json: bool, timeline: Path | None
) -> None:
    """Does the transaction history satisfy the consistency model? (Elle's method)

    Builds the dependency graph (ww, wr, rw; real-time order too for strict-serializable)
    from the values read, and reports G0, G1a, G1b, G1c, G-single, G-nonadjacent (long
    fork) and G2 with the cycle or the read that proves each; lost updates (two
    transactions that read one version of a key and both wrote it) and internal
    inconsistencies with the transactions involved.

    \b
    Examples:
      archlab check isolation --model list-append --consistency serializable txns.jsonl
      archlab check isolation --model rw-register --consistency snapshot-isolation h.jsonl
      archlab check isolation --consistency strict-serializable --json txns.jsonl
    """
    events = hist.load(file)
    result = check_isolation(
        events,
        workload=workload,  # type: ignore[arg-type]
        consistency=consistency,  # type: ignore[arg-type]
        source=str(file),
    )
    if timeline is not None:
        from archlab.check.timeline import render_timeline

        verdict = {True: "valid", False: "NOT valid", "unknown": "unknown"}[result.valid]
        timeline.write_text(
            render_timeline(
                events,
                title=f"{file.name}: {verdict} under {consistency} ({workload})",
                highlight=result.highlight,
                notes=[a.explanation for a in result.forbidden] or [result.reason or "valid"],
                highlight_label=f"in an anomaly {consistency} forbids",
            ),
            encoding="utf-8",
        )
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _show_isolation(_console(), result, timeline)
    sys.exit(EXIT[result.valid])


def _show_isolation(console: Console, result: IsolationResult, timeline: Path | None) -> None:
    edges = ", ".join(f"{k} {v:,}" for k, v in result.edges.items())
    facts = (
        f"{result.workload}, {result.transactions:,} transactions, {result.committed:,} "
        f"committed; edges: {edges}; {duration(result.elapsed_s)}"
    )
    level = result.consistency
    if result.valid is True:
        console.print(Text.assemble((f"✓ {level}", "bold green"), f"  ({facts})"))
    elif result.valid == "unknown":
        console.print(Text.assemble(("? unknown", "bold yellow"), f"  ({facts})"))
        console.print(f"  {result.reason}")
    else:
        console.print(Text.assemble((f"✗ not {level}", "bold red"), f"  ({facts})"))
    forbidden = result.forbidden
    allowed = [a for a in result.anomalies if a not in forbidden]
    for anomaly in forbidden:
        _show_anomaly(console, anomaly, "bold red")
    if allowed:
        console.print()
        console.print(
            f"[yellow]also found, allowed by {level}:[/yellow] "
            + ", ".join(sorted({a.kind for a in allowed}))
        )
        for anomaly in allowed[:3]:
            _show_anomaly(console, anomaly, "yellow")
    if result.ruled_out:
        console.print(f"[dim]ruled out:[/dim] {', '.join(result.ruled_out)}")
    if timeline is not None:
        console.print(f"[dim]timeline:[/dim] {timeline}")


def _show_anomaly(console: Console, anomaly: Anomaly, style: str) -> None:
    console.print()
    if not anomaly.cycle:
        console.print(Text.assemble((anomaly.kind, style), "  ", anomaly.explanation))
        return
    names = [txn_where(step.source).split(" (")[0] for step in anomaly.cycle]
    console.print(Text.assemble((anomaly.kind, style), "  cycle ", " → ".join([*names, names[0]])))
    table = Table(show_header=True, box=None, padding=(0, 1))
    for column in ("from", "to", "edge", "because"):
        table.add_column(column, no_wrap=column != "because")
    for step in anomaly.cycle:
        table.add_row(txn_where(step.source), txn_where(step.target), step.type, step.why)
    console.print(table)
