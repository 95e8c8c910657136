"""``archlab mvcc``: archlab's MVCC engine checked against a real PostgreSQL (codex 4.3)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from archlab.errors import UnknownNameError
from archlab.storage.mvcc.transaction import Isolation

if TYPE_CHECKING:
    from archlab.storage.mvcc.postgres.compare import Cell


@click.group("mvcc")
def mvcc() -> None:
    """PostgreSQL-style MVCC, compared with PostgreSQL itself (codex 4.3).

    \b
    Examples:
      archlab mvcc compare-postgres
      archlab mvcc compare-postgres --schedule write-skew --level serializable
      archlab mvcc compare-postgres --json > cells.json
    """


@mvcc.command("compare-postgres")
@click.option(
    "--schedule",
    "schedules",
    multiple=True,
    metavar="NAME",
    help="Only these anomaly schedules (repeatable; default: all of them).",
)
@click.option(
    "--level",
    "levels",
    multiple=True,
    metavar="LEVEL",
    help="Only these isolation levels: read-committed, repeatable-read, serializable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the cells as JSON.")
def compare_postgres(schedules: tuple[str, ...], levels: tuple[str, ...], as_json: bool) -> None:
    """Run the anomaly schedules on archlab's engine and on a private PostgreSQL.

    Starts a throwaway PostgreSQL server (initdb into a temporary directory, a free
    loopback port; as the 'postgres' account when run as root), runs each schedule's
    statements in the same order on both engines at each isolation level, and prints, cell by
    cell, whether the anomaly happened on each and whether the whole outcome (every read,
    commit, error SQLSTATE and the final rows) is the same.

    Exit status: 0 when every cell matches, 1 when one differs, 3 when no server can be
    started (the message says why: install the Debian package postgresql).
    """
    from archlab.storage.mvcc.postgres.compare import compare, describe
    from archlab.storage.mvcc.postgres.schedules import SCHEDULES
    from archlab.storage.mvcc.postgres.server import PostgresServer

    by_name = {s.name: s for s in SCHEDULES}
    for name in schedules:
        if name not in by_name:
            raise UnknownNameError("schedule", name, list(by_name))
    chosen_levels = []
    for level in levels:
        try:
            chosen_levels.append(Isolation(level))
        except ValueError:
            raise UnknownNameError("isolation level", level, [i.value for i in Isolation]) from None
    picked = [by_name[n] for n in schedules] or list(SCHEDULES)
    with PostgresServer() as server:
        cells = compare(server, schedules=picked, levels=chosen_levels or tuple(Isolation))
        version = server.version
    mismatches = [c for c in cells if not c.matches]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "postgres": version,
                    "cells": [
                        {
                            "schedule": c.schedule.name,
                            "level": c.level.value,
                            "anomaly": c.schedule.anomaly_name,
                            "archlab_anomaly": c.archlab_anomaly,
                            "postgres_anomaly": c.postgres_anomaly,
                            "archlab": describe(c.archlab),
                            "postgres": describe(c.postgres),
                            "matches": c.matches,
                            "differences": c.differences(),
                        }
                        for c in cells
                    ],
                },
                indent=2,
            )
        )
    else:
        _print_table(cells, version)
        click.echo(
            f"{len(cells) - len(mismatches)} of {len(cells)} cells match {version}"
            + ("." if not mismatches else f"; {len(mismatches)} differ.")
        )
    if mismatches:
        raise SystemExit(1)


def _print_table(cells: Sequence[Cell], version: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from archlab.storage.mvcc.postgres.compare import describe

    table = Table(title=f"archlab's MVCC engine vs {version}", show_lines=False)
    for column in (
        "schedule",
        "level",
        "anomaly: archlab",
        "PostgreSQL",
        "archlab",
        "PostgreSQL",
        "same",
    ):
        table.add_column(column)
    for cell in cells:
        table.add_row(
            cell.schedule.name,
            cell.level.value,
            "yes" if cell.archlab_anomaly else "no",
            "yes" if cell.postgres_anomaly else "no",
            describe(cell.archlab),
            describe(cell.postgres),
            "[green]yes[/green]"
            if cell.matches
            else "[red]NO[/red]: " + "; ".join(cell.differences()),
        )
    Console().print(table)
