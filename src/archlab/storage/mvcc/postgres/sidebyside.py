"""Bloat and freezing, the same workload on archlab's engine and on PostgreSQL (codex 4.3).

:func:`bloat_side_by_side` loads ``rows`` rows into both, optionally opens a repeatable-read
transaction and reads one row (its snapshot now pins the vacuum horizon), applies the same
seeded sequence of one-row updates (each its own transaction), runs ``VACUUM`` while the
snapshot is held and again after it ends, and counts dead tuples and pages at each point:
archlab's own heap counts; on PostgreSQL ``pgstattuple``'s exact ``dead_tuple_count`` (and
the statistics view's ``n_dead_tup``) and ``pg_relation_size`` in 8 KiB pages.

:func:`freezing_side_by_side` consumes ``xids`` transaction IDs on another table, then reads
``age(relfrozenxid)`` of the loaded table after ``VACUUM`` and after ``VACUUM FREEZE``, with and
without an old snapshot held from before the XIDs were consumed.

PostgreSQL also prunes dead tuples on a page when an update finds it nearly full (HOT pruning),
which archlab does not model; the counts while a snapshot is held are unaffected (pruning
respects the same horizon), the counts without one may be lower on PostgreSQL.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from archlab.storage.mvcc.engine import Engine
from archlab.storage.mvcc.postgres.server import PostgresServer
from archlab.storage.mvcc.transaction import Isolation, Transaction

PAGE_BYTES = 8192


@dataclass(frozen=True)
class BloatPoint:
    """Dead tuples and pages on both engines at one point of the bloat workload."""

    archlab_dead: int
    archlab_pages: int
    postgres_dead: int  # pgstattuple dead_tuple_count
    postgres_n_dead_tup: int  # pg_stat_user_tables, as autovacuum reads it
    postgres_pages: int


@dataclass(frozen=True)
class BloatSideBySide:
    rows: int
    updates: int
    loaded: BloatPoint  # after the load and a VACUUM
    held: BloatPoint  # after the updates and a VACUUM, the old snapshot still open
    released: BloatPoint  # after the snapshot ended and another VACUUM
    no_snapshot: BloatPoint  # the same updates on fresh tables with no snapshot, then VACUUM


@dataclass(frozen=True)
class FreezeAges:
    """``age(relfrozenxid)`` of the loaded table on both engines."""

    archlab: int
    postgres: int


@dataclass(frozen=True)
class FreezingSideBySide:
    xids: int
    consumed: FreezeAges  # after consuming the XIDs, before any vacuum of the table
    vacuumed: FreezeAges  # after a plain VACUUM
    frozen: FreezeAges  # after VACUUM FREEZE
    frozen_while_held: FreezeAges  # VACUUM FREEZE with a snapshot from before the XIDs open


def _key(i: int) -> str:
    return f"row{i:06d}"


class _Pair:
    """One table ``kv`` on each engine, fed the same statements."""

    def __init__(self, server: PostgresServer, rows: int) -> None:
        self.engine = Engine(tables=("kv", "other"))
        self.pg = server.connect(autocommit=True)
        self.pg.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        for table in ("kv", "other"):
            self.pg.execute(f"DROP TABLE IF EXISTS {table}")
            self.pg.execute(f"CREATE TABLE {table} (k text PRIMARY KEY, v integer NOT NULL)")
        loader = self.engine.begin()
        for i in range(rows):
            loader.put(_key(i), 0, table="kv")
        loader.put("counter", 0, table="other")
        loader.commit()
        with self.pg.transaction():
            self.pg.cursor().executemany(
                "INSERT INTO kv VALUES (%s, 0)", [(_key(i),) for i in range(rows)]
            )
            self.pg.execute("INSERT INTO other VALUES ('counter', 0)")
        self.held_ours: Transaction | None = None
        self.held_theirs: Any = None

    def close(self) -> None:
        self.release()
        self.pg.close()

    def update(self, key: str, value: int, table: str = "kv") -> None:
        txn = self.engine.begin()
        txn.put(key, value, table=table)
        txn.commit()
        self.pg.execute(f"UPDATE {table} SET v = %s WHERE k = %s", (value, key))

    def hold(self, server: PostgresServer) -> None:
        self.held_ours = self.engine.begin(Isolation.REPEATABLE_READ)
        self.held_ours.get(_key(0), table="kv")
        self.held_theirs = server.connect(autocommit=True)
        self.held_theirs.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        self.held_theirs.execute("SELECT v FROM kv WHERE k = %s", (_key(0),))

    def release(self) -> None:
        if self.held_ours is not None:
            self.held_ours.commit()
            self.held_ours = None
        if self.held_theirs is not None:
            self.held_theirs.execute("COMMIT")
            self.held_theirs.close()
            self.held_theirs = None

    def vacuum(self, *, freeze: bool = False) -> None:
        self.engine.vacuum("kv", freeze=freeze)
        self.pg.execute("VACUUM (FREEZE) kv" if freeze else "VACUUM kv")

    def bloat_point(self, rows: int) -> BloatPoint:
        stats = self.engine.stats("kv")
        dead = self.pg.execute("SELECT dead_tuple_count FROM pgstattuple('kv')").fetchone()
        self.pg.execute("SELECT pg_stat_force_next_flush()")
        n_dead = self.pg.execute(
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'kv'"
        ).fetchone()
        size = self.pg.execute("SELECT pg_relation_size('kv')").fetchone()
        return BloatPoint(
            archlab_dead=stats.tuples - rows,
            archlab_pages=stats.pages,
            postgres_dead=int(dead[0]),
            postgres_n_dead_tup=int(n_dead[0]) if n_dead else 0,
            postgres_pages=int(size[0]) // PAGE_BYTES,
        )

    def ages(self) -> FreezeAges:
        table = self.engine.table("kv")
        ours = self.engine.space.age(table.relfrozenxid, self.engine.xids.next_xid)
        row = self.pg.execute("SELECT age(relfrozenxid) FROM pg_class WHERE relname = 'kv'")
        theirs = row.fetchone()
        return FreezeAges(archlab=ours, postgres=int(theirs[0]))


def bloat_side_by_side(
    server: PostgresServer, *, rows: int, updates: int, seed: int
) -> BloatSideBySide:
    """The bloat workload on both engines; see the module docstring."""
    points: dict[str, BloatPoint] = {}
    for held in (True, False):
        pair = _Pair(server, rows)
        try:
            pair.vacuum()
            if held:
                points["loaded"] = pair.bloat_point(rows)
                pair.hold(server)
            rng = random.Random(seed)
            for n in range(updates):
                pair.update(_key(rng.randrange(rows)), n + 1)
            pair.vacuum()
            if held:
                points["held"] = pair.bloat_point(rows)
                pair.release()
                pair.vacuum()
                points["released"] = pair.bloat_point(rows)
            else:
                points["no_snapshot"] = pair.bloat_point(rows)
        finally:
            pair.close()
    return BloatSideBySide(rows=rows, updates=updates, **points)


def freezing_side_by_side(server: PostgresServer, *, rows: int, xids: int) -> FreezingSideBySide:
    """XID age of a loaded table on both engines; see the module docstring."""
    ages: dict[str, FreezeAges] = {}
    for held in (False, True):
        pair = _Pair(server, rows)
        try:
            if held:
                pair.hold(server)
            for n in range(xids):
                pair.update("counter", n + 1, table="other")
            if held:
                pair.vacuum(freeze=True)
                ages["frozen_while_held"] = pair.ages()
                continue
            ages["consumed"] = pair.ages()
            pair.vacuum()
            ages["vacuumed"] = pair.ages()
            pair.vacuum(freeze=True)
            ages["frozen"] = pair.ages()
        finally:
            pair.close()
    return FreezingSideBySide(xids=xids, **ages)
