"""Vacuum: what it removes, what it must keep for open snapshots, and when autovacuum runs."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from archlab.storage.mvcc import (
    Engine,
    Isolation,
    LockWait,
    MvccSettings,
    Transaction,
    TransactionError,
)
from archlab.storage.mvcc.visibility import satisfies_mvcc

from .broken import VacuumIgnoringSnapshots

SMALL_PAGES = MvccSettings(tuples_per_page=4)


def fill(engine: Engine, n: int, value: int = 0) -> None:
    txn = engine.begin()
    for i in range(n):
        txn.put(f"k{i:04d}", value)
    txn.commit()


def update_all(engine: Engine, n: int, value: int) -> None:
    txn = engine.begin()
    for i in range(n):
        txn.put(f"k{i:04d}", value)
    txn.commit()


def test_vacuum_removes_versions_nobody_can_see_and_their_index_entries() -> None:
    engine = Engine(SMALL_PAGES)
    fill(engine, 8)
    update_all(engine, 8, 1)
    update_all(engine, 8, 2)
    assert engine.stats().tuples == 24 and engine.stats().n_dead_tup == 16
    (report,) = engine.vacuum()
    assert report.tuples_removed == 16 and report.index_entries_removed == 16
    assert report.tuples_live == 8
    assert engine.stats().tuples == 8 and engine.stats().n_dead_tup == 0
    assert all(len(tids) == 1 for tids in engine.table().index.values())
    reader = engine.begin()
    assert [v for _, v in reader.scan()] == [2] * 8


def test_freed_space_is_reused_and_empty_tail_pages_are_truncated() -> None:
    engine = Engine(SMALL_PAGES)
    fill(engine, 8)
    for value in range(1, 4):
        update_all(engine, 8, value)
    assert engine.stats().pages == 8
    (report,) = engine.vacuum()
    # the live versions sit on the last pages, so nothing at the end is empty yet
    assert report.pages_truncated == 0 and engine.stats().pages == 8
    update_all(engine, 8, 9)  # new versions fill the freed slots at the front
    assert engine.stats().pages == 8
    (report,) = engine.vacuum()
    assert report.pages_truncated == 6 and engine.stats().pages == 2


def test_an_old_snapshot_keeps_what_it_can_see() -> None:
    engine = Engine(SMALL_PAGES)
    fill(engine, 4)
    old = engine.begin(Isolation.REPEATABLE_READ)
    assert old.get("k0000") == 0  # takes the snapshot
    update_all(engine, 4, 1)
    update_all(engine, 4, 2)
    (report,) = engine.vacuum()
    # the versions written at 1 are invisible to everyone (old sees 0, new readers see 2),
    # but PostgreSQL's horizon is one XID: everything deleted after old's xmin stays
    assert report.tuples_removed == 0 and report.tuples_recently_dead == 8
    assert old.snapshot is not None and report.horizon == old.snapshot.xmin
    assert old.scan() == [(f"k{i:04d}", 0) for i in range(4)]
    old.commit()
    (report,) = engine.vacuum()
    assert report.tuples_removed == 8


def test_a_read_committed_transaction_holds_the_horizon_only_once_it_has_an_xid() -> None:
    engine = Engine()
    fill(engine, 2)
    idle_reader = engine.begin(Isolation.READ_COMMITTED)
    idle_reader.get("k0000")  # no snapshot is held between statements
    update_all(engine, 2, 1)
    assert engine.vacuum()[0].tuples_removed == 2
    writer = engine.begin(Isolation.READ_COMMITTED)
    writer.put("other", 1)  # now it has an XID: nothing after it is removable
    update_all(engine, 2, 2)
    assert engine.vacuum()[0].tuples_removed == 0
    writer.commit()
    assert engine.vacuum()[0].tuples_removed == 2


def test_aborted_versions_are_dead_at_once() -> None:
    engine = Engine()
    old = engine.begin(Isolation.REPEATABLE_READ)
    old.get("x")
    txn = engine.begin()
    txn.put("x", 1)
    txn.put("y", 1)
    txn.abort()
    assert engine.stats().n_dead_tup == 2
    assert engine.vacuum()[0].tuples_removed == 2  # even with an old snapshot open


def test_regular_vacuum_skips_all_visible_pages_and_aggressive_reads_unfrozen_ones() -> None:
    engine = Engine(SMALL_PAGES)
    fill(engine, 4 * 40)  # 40 pages
    first = engine.vacuum()[0]
    assert first.pages_read == 40 and first.tuples_frozen == 0
    second = engine.vacuum()[0]
    assert second.pages_read == 0 and second.pages_skipped_all_visible == 40
    aggressive = engine.vacuum(aggressive=True)[0]
    assert aggressive.pages_read == 40  # all-visible is not all-frozen
    frozen = engine.vacuum(freeze=True)[0]
    assert frozen.pages_read == 40 and frozen.tuples_frozen == 160
    assert engine.vacuum(aggressive=True)[0].pages_skipped_all_frozen == 40


def test_short_runs_of_all_visible_pages_are_not_skipped() -> None:
    engine = Engine(SMALL_PAGES)
    fill(engine, 4 * 40)
    engine.vacuum()
    txn = engine.begin()
    for page in (0, 10, 20, 30):  # dirty every tenth page
        txn.put(f"k{page * 4:04d}", 1)
    txn.commit()
    report = engine.vacuum()[0]
    assert report.pages_skipped_all_visible == 0  # no run reaches SKIP_PAGES_THRESHOLD


def test_autovacuum_triggers_at_threshold_plus_scale_factor() -> None:
    engine = Engine(MvccSettings(autovacuum_vacuum_insert_threshold=10**6))
    fill(engine, 100)
    engine.vacuum()  # reltuples = 100: threshold 50 + 0.2 * 100 = 70 dead tuples
    update_all(engine, 70, 1)
    assert engine.autovacuum() == []
    update_all(engine, 1, 2)
    (report,) = engine.autovacuum()
    assert report.tuples_removed == 71 and "dead tuples" in report.reason
    assert engine.stats().autovacuum_count == 1


def test_autovacuum_also_triggers_on_inserts_and_can_be_turned_off() -> None:
    engine = Engine()
    fill(engine, 1001)  # insert threshold 1000 + 0.2 * 0
    (report,) = engine.autovacuum()
    assert "inserts" in report.reason
    off = Engine(MvccSettings(autovacuum=False))
    fill(off, 2000)
    update_all(off, 2000, 1)
    assert off.autovacuum() == []


def test_table_statistics_follow_commits_and_aborts() -> None:
    engine = Engine()
    fill(engine, 10)
    stats = engine.stats()
    assert (stats.n_live_tup, stats.n_dead_tup, stats.inserts_since_vacuum) == (10, 0, 10)
    txn = engine.begin()
    txn.put("k0000", 1)
    txn.delete("k0001")
    txn.commit()
    stats = engine.stats()
    assert (stats.n_live_tup, stats.n_dead_tup) == (9, 2)
    txn = engine.begin()
    txn.put("new", 1)
    txn.put("k0002", 5)
    txn.abort()
    assert engine.stats().n_dead_tup == 4


# -- the property: vacuum never changes what anyone sees -------------------------------------------


def views(engine: Engine) -> dict[int, list[tuple[str, Any]]]:
    """What each open transaction sees now (its snapshot, or a fresh one at read committed),
    computed without touching SSI state."""
    seen = {}
    fresh = engine.take_snapshot()
    for txn in engine.active.values():
        snapshot = txn.snapshot or fresh
        rows = []
        for tbl in engine.tables.values():
            for _, tup in tbl.heap.tuples():
                if satisfies_mvcc(tup, snapshot, txn.xid, engine.clog.status):
                    rows.append((tup.key, tup.value))
        seen[txn.id] = sorted(rows)
    return seen


def vacuum_changes_a_view(engine: Engine, seed: int, steps: int = 120) -> bool:
    """Drive random transactions with vacuums in between; True if a vacuum changed any open
    transaction's view."""
    rng = random.Random(seed)
    keys = [f"k{i}" for i in range(6)]
    open_txns: list[Transaction] = []
    for _ in range(steps):
        action = rng.random()
        if action < 0.15 or not open_txns:
            open_txns.append(engine.begin(rng.choice(list(Isolation))))
            continue
        if action < 0.25:
            before = views(engine)
            engine.vacuum(freeze=rng.random() < 0.3)
            if views(engine) != before:
                return True
            continue
        txn = rng.choice(open_txns)
        try:
            if action < 0.5:
                txn.get(rng.choice(keys))
            elif action < 0.75:
                txn.put(rng.choice(keys), rng.randrange(1000))
            elif action < 0.8:
                txn.delete(rng.choice(keys))
            elif action < 0.95:
                txn.commit()
            else:
                txn.abort()
        except (LockWait, TransactionError):
            pass
        open_txns = [t for t in open_txns if t.active]
    return False


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_vacuum_never_changes_what_an_open_transaction_sees(seed: int) -> None:
    assert not vacuum_changes_a_view(Engine(SMALL_PAGES), seed)


def test_a_vacuum_that_ignores_the_horizon_is_caught() -> None:
    caught = [
        s for s in range(40) if vacuum_changes_a_view(VacuumIgnoringSnapshots(SMALL_PAGES), s)
    ]
    assert len(caught) >= 10


@pytest.mark.slow
def test_vacuum_keeps_views_over_many_seeds() -> None:
    for seed in range(2000):
        assert not vacuum_changes_a_view(Engine(SMALL_PAGES), seed, steps=300), seed
