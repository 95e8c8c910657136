"""The design toolkit's commands: ``estimate``, ``review`` and ``design`` (codex 2).

``archlab estimate`` turns requirements (flags, or a YAML file with the same names) into the
back-of-the-envelope numbers and Table 1's implications; ``archlab review`` checks a design
file against the codex's rules; ``archlab design new`` writes a starter design and ``archlab
design rules`` lists what the review checks.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from archlab.design import render
from archlab.design.estimate import estimate as compute_estimate
from archlab.design.requirements import FIELDS, Requirements, from_mapping
from archlab.design.yamlsource import dotted, load
from archlab.errors import ConfigError, InputFormatError

FAIL_ON = ("error", "warning", "info", "never")


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _output_format(as_json: bool, markdown: bool) -> str:
    if as_json and markdown:
        raise ConfigError("--json and --markdown cannot be combined; choose one")
    return "json" if as_json else "markdown" if markdown else "rich"


def _requirement_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for f in reversed(FIELDS):
        command = click.option(
            f.flag,
            f.name,
            metavar="VALUE",
            default=None,
            help=f"{f.help} [default: {_default_text(f.name)}; e.g. {f.example}]",
        )(command)
    return command


def _default_text(name: str) -> str:
    return render.show_requirement(Requirements(), name)


def _requirements_from_file(path: Path) -> dict[str, Any]:
    """The requirements in ``path``: a flat mapping, or a design's requirements section."""
    from archlab.design.parse import QUALITATIVE_REQUIREMENTS

    data, lines = load(path)
    if isinstance(data, dict) and isinstance(data.get("requirements"), dict):
        base: tuple[str, ...] = ("requirements",)
        section = {k: v for k, v in data["requirements"].items()
                   if k not in QUALITATIVE_REQUIREMENTS}  # fmt: skip
    elif isinstance(data, dict):
        base, section = (), dict(data)
    else:
        raise InputFormatError(path, "expected a mapping of requirement names to values")
    known = [f.name for f in FIELDS]
    for key in section:
        if key not in known:
            where = (*base, str(key))
            raise InputFormatError(
                path,
                f"{dotted(where)}: expected one of the requirements {', '.join(known)}, "
                f"found the unknown key {key!r}",
                lines.line(where),
            )
    try:
        from_mapping(section, where=lambda key: dotted((*base, key)))
    except ConfigError as exc:
        bad = next((k for k in section if str(exc).startswith(f"{dotted((*base, k))}:")), None)
        line = lines.line((*base, bad)) if bad is not None else None
        raise InputFormatError(path, str(exc), line) from None
    return section


@click.command("estimate")
@click.option(
    "--from",
    "from_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="YAML file of requirements (keys are the long option names with underscores), "
    "or a design file (its requirements section is used). Flags override it.",
)
@_requirement_options
@click.option("--json", "as_json", is_flag=True, help="Print every number as one JSON object.")
@click.option("--markdown", is_flag=True, help="Print Markdown tables.")
def estimate(from_file: Path | None, as_json: bool, markdown: bool, **flags: str | None) -> None:
    """Back-of-the-envelope estimate from requirements, with Table 1's implications (§2.2).

    Computes average and peak QPS for reads and writes, ingress and egress bandwidth,
    storage per day and per year and after retention (with replication), the memory for a
    hot-set cache, servers needed and the downtime the availability target allows; then
    prints each Table 1 threshold crossed with the number that crossed it.

    Numbers take units: 10M, 1.5k, 2B (billion); 1KB = 1000 bytes and 1KiB = 1024 bytes;
    retention 90d or 5y (y = 365 days); 99.99% or '4 nines'.

    \b
    Examples:
      archlab estimate --dau 10M --writes-per-user-per-day 1 --write-size 1KB
      archlab estimate --dau 100M --reads-per-user-per-day 50 --latency-ms 50 --markdown
      archlab estimate --from requirements.yaml --availability 99.999% --json
      archlab estimate --from examples/url-shortener.yaml
    """
    fmt = _output_format(as_json, markdown)
    raw: dict[str, Any] = _requirements_from_file(from_file) if from_file else {}
    given = {name: value for name, value in flags.items() if value is not None}
    raw.update(given)
    flag_of = {f.name: f.flag for f in FIELDS}
    origin = {name: (flag_of[name] if name in given else f"{from_file}: {name}") for name in raw}
    requirements = from_mapping(raw, where=lambda key: origin.get(key, key))
    result = compute_estimate(requirements)
    if fmt == "json":
        click.echo(render.estimate_json(result))
    elif fmt == "markdown":
        click.echo(render.estimate_markdown(result), nl=False)
    else:
        render.print_estimate(_console(), result)


@click.command("review")
@click.argument("design_file", metavar="DESIGN.yaml", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the review as one JSON object.")
@click.option("--markdown", is_flag=True, help="Print the review as Markdown.")
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default="error",
    show_default=True,
    help="Exit with status 1 when a finding of this severity or worse is found.",
)
def review(design_file: Path, as_json: bool, markdown: bool, fail_on: str) -> None:
    """Review a design file against the codex's rules.

    Estimates the design's requirements first (as 'archlab estimate' does) and checks every
    rule with those numbers. Each finding gives its severity, codex section, what in the
    design triggered it, why it matters and the alternative. Exit status: 0 clean (below
    --fail-on), 1 findings at or above --fail-on, 2 the file is invalid (the message names
    the field, what was expected and what was found).

    \b
    Examples:
      archlab review examples/payments.yaml
      archlab review design.yaml --markdown > REVIEW.md
      archlab review design.yaml --json | jq '.findings[].rule'
      archlab review design.yaml --fail-on warning     (for CI)
    """
    from archlab.design.review import review_file

    fmt = _output_format(as_json, markdown)
    result = review_file(design_file)
    if fmt == "json":
        click.echo(render.review_json(result))
    elif fmt == "markdown":
        click.echo(render.review_markdown(result), nl=False)
    else:
        render.print_review(_console(), result)
    if fail_on != "never":
        worst = FAIL_ON.index(fail_on)
        if any(FAIL_ON.index(f.severity) <= worst for f in result.findings):
            sys.exit(1)


@click.group("design")
def design() -> None:
    """Design files: write a starter, list the review's rules.

    \b
    Examples:
      archlab design new payments
      archlab design rules
    """


@design.command("new")
@click.argument("name")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write it [default: NAME.yaml in the current directory].",
)
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
def design_new(name: str, output: Path | None, force: bool) -> None:
    """Write a starter design NAME.yaml, laid out along PEDALS, every field commented.

    The starter describes a small, sound system ('archlab review' finds nothing in it); edit
    it from there. An existing file is left alone unless --force is given.

    \b
    Examples:
      archlab design new chat
      archlab design new payments -o designs/payments.yaml
      archlab design new chat --force
    """
    from archlab.design.starter import write_starter

    path = write_starter(name, output, force)
    click.echo(f"wrote {path}; next: archlab review {path}")


@design.command("rules")
@click.option("--json", "as_json", is_flag=True, help="Print the rules as a JSON array.")
def design_rules(as_json: bool) -> None:
    """List the rules 'archlab review' checks, with their codex sections.

    \b
    Examples:
      archlab design rules
      archlab design rules --json | jq '.[].id'
    """
    from rich.table import Table

    from archlab.design.review import section_key
    from archlab.design.rules import RULES

    rules = sorted(RULES.values(), key=lambda r: (section_key(r.section), r.id))
    if as_json:
        data = [
            {"id": r.id, "section": r.section, "severity": r.severity, "title": r.title,
             "why": r.why, "alternative": r.alternative, "measured_by": list(r.measured_by)}
            for r in rules
        ]  # fmt: skip
        click.echo(json.dumps(data, indent=2))
        return
    table = Table(title=f"{len(rules)} review rules", title_justify="left")
    table.add_column("§", style="dim")
    table.add_column("rule", style="cyan", no_wrap=True)
    table.add_column("severity")
    table.add_column("checks for")
    table.add_column("measured by (archlab run ...)", style="dim")
    for r in rules:
        table.add_row(r.section, r.id, r.severity, r.title, ", ".join(r.measured_by))
    _console().print(table)
