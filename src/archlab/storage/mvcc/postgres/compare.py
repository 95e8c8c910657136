"""The isolation table, cell by cell: archlab's engine against PostgreSQL (codex 4.3).

:func:`compare` plays every schedule of :mod:`~archlab.storage.mvcc.postgres.schedules` at
every isolation level on both engines and keeps, per cell, whether the anomaly happened on
each and the whole observable outcome (every read's value, who committed, who failed with
which SQLSTATE, the final table). A cell *matches* when the outcomes are identical, which is
stricter than agreeing on the anomaly: ``40001`` must be raised by the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from archlab.storage.mvcc.engine import Engine
from archlab.storage.mvcc.postgres.pgbackend import PostgresBackend
from archlab.storage.mvcc.postgres.play import ArchlabBackend, play
from archlab.storage.mvcc.postgres.schedules import SCHEDULES, Outcome, Schedule
from archlab.storage.mvcc.postgres.server import PostgresServer
from archlab.storage.mvcc.transaction import Isolation


@dataclass(frozen=True)
class Cell:
    schedule: Schedule
    level: Isolation
    archlab: Outcome
    postgres: Outcome

    @property
    def archlab_anomaly(self) -> bool:
        return self.schedule.anomaly(self.archlab)

    @property
    def postgres_anomaly(self) -> bool:
        return self.schedule.anomaly(self.postgres)

    @property
    def matches(self) -> bool:
        return self.archlab == self.postgres

    def differences(self) -> list[str]:
        """What differs, one phrase each (empty when the cell matches)."""
        out = []
        a, p = self.archlab, self.postgres
        for label in sorted(a.reads.keys() | p.reads.keys()):
            if a.reads.get(label) != p.reads.get(label):
                out.append(
                    f"read {label}: archlab {a.reads.get(label)}, postgres {p.reads.get(label)}"
                )
        if a.committed != p.committed:
            out.append(f"committed: archlab {sorted(a.committed)}, postgres {sorted(p.committed)}")
        if a.failed != p.failed:
            out.append(f"failed: archlab {a.failed}, postgres {p.failed}")
        if a.final != p.final:
            out.append(f"final: archlab {a.final}, postgres {p.final}")
        if a.stuck != p.stuck:
            out.append(f"still waiting: archlab {sorted(a.stuck)}, postgres {sorted(p.stuck)}")
        return out


def describe(outcome: Outcome) -> str:
    """A short account of an outcome: who committed, who failed with which SQLSTATE."""
    parts = [f"{txn} commit" for txn in sorted(outcome.committed)]
    parts += [f"{txn} {state}" for txn, state in sorted(outcome.failed.items())]
    parts += [f"{txn} waits" for txn in sorted(outcome.stuck)]
    return ", ".join(parts) or "nothing committed"


def compare(
    server: PostgresServer,
    *,
    schedules: Iterable[Schedule] = SCHEDULES,
    levels: Iterable[Isolation] = tuple(Isolation),
    engine_factory: Callable[[], Engine] = Engine,
) -> list[Cell]:
    """Every schedule at every level on both engines."""
    postgres = PostgresBackend(server)
    archlab = ArchlabBackend(engine_factory)
    cells = []
    try:
        for schedule in schedules:
            for level in levels:
                ours = play(schedule, level, archlab)
                theirs = play(schedule, level, postgres)
                cells.append(Cell(schedule, level, ours, theirs))
    finally:
        postgres.close()
    return cells
