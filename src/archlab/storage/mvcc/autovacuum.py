"""When autovacuum vacuums a table: ``relation_needs_vacanalyze`` (codex 4.3).

A table is vacuumed when any of these holds:

* dead tuples exceed ``autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor ×
  reltuples`` (50 + 20% of the table by default);
* inserts since the last vacuum exceed ``autovacuum_vacuum_insert_threshold +
  autovacuum_vacuum_insert_scale_factor × reltuples`` (PostgreSQL 13+: so insert-only tables
  get their pages marked all-visible and frozen in small steps);
* ``age(relfrozenxid)`` exceeds ``autovacuum_freeze_max_age``: an anti-wraparound vacuum,
  aggressive, run even when autovacuum is turned off.

The launcher's naptime is the caller's business: whoever drives the engine calls
:meth:`Engine.autovacuum` at the pace it wants (every so many transactions, or virtual seconds).
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.storage.mvcc.settings import MvccSettings
from archlab.storage.mvcc.table import Table


@dataclass(frozen=True)
class AutovacuumDecision:
    vacuum: bool
    anti_wraparound: bool
    reason: str
    dead_threshold: float
    insert_threshold: float


def decide(table: Table, settings: MvccSettings, next_xid: int) -> AutovacuumDecision:
    """Should autovacuum vacuum ``table`` now, and why?"""
    space = settings.space
    age = space.age(table.relfrozenxid, next_xid)
    dead_threshold = (
        settings.autovacuum_vacuum_threshold
        + settings.autovacuum_vacuum_scale_factor * table.reltuples
    )
    insert_threshold = (
        settings.autovacuum_vacuum_insert_threshold
        + settings.autovacuum_vacuum_insert_scale_factor * table.reltuples
    )
    if age > settings.autovacuum_freeze_max_age:
        reason = f"to prevent wraparound (relfrozenxid age {age})"
        return AutovacuumDecision(True, True, reason, dead_threshold, insert_threshold)
    if not settings.autovacuum:
        return AutovacuumDecision(False, False, "autovacuum is off", dead_threshold, 0.0)
    if table.n_dead_tup > dead_threshold:
        reason = f"{table.n_dead_tup} dead tuples > threshold {dead_threshold:.0f}"
        return AutovacuumDecision(True, False, reason, dead_threshold, insert_threshold)
    if table.inserts_since_vacuum > insert_threshold:
        reason = f"{table.inserts_since_vacuum} inserts > threshold {insert_threshold:.0f}"
        return AutovacuumDecision(True, False, reason, dead_threshold, insert_threshold)
    return AutovacuumDecision(False, False, "below thresholds", dead_threshold, insert_threshold)
