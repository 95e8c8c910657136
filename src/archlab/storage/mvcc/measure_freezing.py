"""XID age, freezing I/O and wraparound under a pgbench-like workload (codex 4.3).

:func:`run_pgbench` runs one small transaction per step, as pgbench's TPC-B-like script does:
update a random row of ``accounts`` (a hot table: every page gets updates) and insert a row into
``history`` (append-only: pages fill once and are never touched again). Autovacuum runs every
``naptime`` steps. The hot table is vacuumed for its dead tuples; the append-only one only by
insert-triggered vacuums, which skip its old all-visible pages and so cannot advance its
``relfrozenxid``, until its age passes ``autovacuum_freeze_max_age`` and an anti-wraparound
vacuum must read and freeze every page not yet all-frozen: PostgreSQL's classic I/O spike.

With the refusal switched off (``wraparound_protection=False``, the counterfactual), the
damage is counted rather than raised: committed rows a fresh scan no longer returns, and
commit-log lookups that fail because vacuum, misled by the wrapped comparison, truncated the
status of XIDs still in use (PostgreSQL's "could not access status of transaction").

Optionally an old transaction is held (:class:`Hold`): it takes a repeatable-read snapshot at one
step and keeps it until the engine has refused a number of XIDs (or a number of XIDs have been
consumed, when nothing refuses). Vacuum cannot freeze past its xmin, so the distance to
wraparound shrinks to the warning margin and then to the stop margin.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from archlab.storage.mvcc.clog import TruncatedXidError
from archlab.storage.mvcc.engine import Engine
from archlab.storage.mvcc.errors import WraparoundRefusal
from archlab.storage.mvcc.settings import MvccSettings
from archlab.storage.mvcc.transaction import Isolation, Transaction
from archlab.storage.mvcc.vacuum import VacuumReport

T = TypeVar("T")


@dataclass(frozen=True)
class Hold:
    """An old transaction: snapshot at ``start_step``; released once ``release_refusals`` XIDs
    were refused or ``release_xids`` XIDs consumed, whichever comes first."""

    start_step: int
    release_refusals: int
    release_xids: int


@dataclass(frozen=True)
class AgePoint:
    step: int
    xids: int  # XIDs consumed so far
    age: int  # age(datfrozenxid)
    remaining: int  # XIDs left before the wrap limit
    refused: int  # refusals so far


@dataclass
class FreezeRun:
    settings: MvccSettings
    points: list[AgePoint] = field(default_factory=list)
    vacuums: list[tuple[int, VacuumReport]] = field(default_factory=list)  # (step, report)
    committed: int = 0
    refused: int = 0
    refused_while_held: int = 0
    first_warning_remaining: int | None = None
    first_refusal_remaining: int | None = None
    hold_steps: tuple[int, int] | None = None
    committed_after_release: int = 0
    history_rows_committed: int = 0
    history_rows_visible: int = 0
    #: the most committed history rows a fresh scan failed to return, over the audits
    rows_missing_peak: int = 0
    #: commit-log lookups that failed (only possible once wraparound has corrupted the table)
    clog_errors: int = 0
    warnings: int = 0

    @property
    def max_age(self) -> int:
        return max((p.age for p in self.points), default=0)

    def anti_wraparound(self) -> list[VacuumReport]:
        return [r for _, r in self.vacuums if r.reason.startswith("anti-wraparound")]

    def regular(self) -> list[VacuumReport]:
        return [r for _, r in self.vacuums if not r.reason.startswith("anti-wraparound")]

    @property
    def rows_lost(self) -> int:
        return self.history_rows_committed - self.history_rows_visible


def run_pgbench(  # noqa: PLR0912 - one workload script: transactions, autovacuum, freezing and the measurements taken between them
    settings: MvccSettings,
    *,
    accounts: int,
    steps: int,
    naptime: int,
    sample_every: int,
    rng: random.Random,
    hold: Hold | None = None,
    audit_every: int | None = None,
) -> FreezeRun:
    engine = Engine(settings, tables=("accounts", "history"))
    setup = engine.begin()
    for i in range(accounts):
        setup.put(f"a{i:07d}", 0, table="accounts")
    setup.commit()
    run = FreezeRun(settings)
    old: Transaction | None = None
    released_at: int | None = None
    for step in range(steps):
        if hold is not None and step == hold.start_step:
            old = engine.begin(Isolation.REPEATABLE_READ)
            old.get("a0000000", table="accounts")
        if (
            old is not None
            and hold is not None
            and (
                run.refused_while_held >= hold.release_refusals
                or engine.xids.assigned >= hold.release_xids
            )
        ):
            old.commit()
            old = None
            released_at = step
            run.hold_steps = (hold.start_step, step)
        if step % sample_every == 0:
            run.points.append(_point(engine, step, run.refused))
        outcome = _guarded(run, partial(_one_transaction, engine, rng, accounts, step))
        if outcome is None:
            pass
        elif outcome:
            run.committed += 1
            run.history_rows_committed += 1
            if released_at is not None:
                run.committed_after_release += 1
        else:
            run.refused += 1
            if old is not None:
                run.refused_while_held += 1
            if run.first_refusal_remaining is None:
                run.first_refusal_remaining = engine.xids.remaining()
        if run.first_warning_remaining is None and engine.xids.warnings:
            run.first_warning_remaining = engine.xids.remaining() + 1
        if (step + 1) % naptime == 0:
            reports = _guarded(run, engine.autovacuum)
            run.vacuums.extend((step + 1, r) for r in reports or ())
        if audit_every and (step + 1) % audit_every == 0:
            visible = _guarded(run, lambda: _visible_history(engine))
            if visible is not None:
                missing = run.history_rows_committed - visible
                run.rows_missing_peak = max(run.rows_missing_peak, missing)
    if old is not None and hold is not None:
        old.commit()
        run.hold_steps = (hold.start_step, steps)
    run.points.append(_point(engine, steps, run.refused))
    visible = _guarded(run, lambda: _visible_history(engine))
    run.history_rows_visible = run.history_rows_committed if visible is None else visible
    run.rows_missing_peak = max(run.rows_missing_peak, run.rows_lost)
    run.warnings = engine.xids.warnings
    return run


def _guarded(run: FreezeRun, action: Callable[[], T]) -> T | None:
    """Run ``action``; a failed commit-log lookup is damage to count when the wraparound
    protection is off, and a bug to raise when it is on."""
    try:
        return action()
    except TruncatedXidError:
        if run.settings.wraparound_protection:
            raise
        run.clog_errors += 1
        return None


def _one_transaction(engine: Engine, rng: random.Random, accounts: int, step: int) -> bool:
    txn = engine.begin()
    key = f"a{rng.randrange(accounts):07d}"
    try:
        balance = txn.get(key, for_update=True, table="accounts")
        txn.put(key, (balance or 0) + 1, table="accounts")
        txn.put(f"h{step:09d}", step, table="history")
        txn.commit()
    except WraparoundRefusal:
        return False
    finally:
        txn.abort()  # no-op after commit; rolls back after a failed lookup
    return True


def _visible_history(engine: Engine) -> int:
    reader = engine.begin()
    rows = len(reader.scan(table="history"))
    reader.commit()
    return rows


def _point(engine: Engine, step: int, refused: int) -> AgePoint:
    return AgePoint(
        step=step,
        xids=engine.xids.assigned,
        age=engine.xid_age(),
        remaining=engine.xids.remaining(),
        refused=refused,
    )
