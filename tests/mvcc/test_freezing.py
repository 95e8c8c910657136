"""Freezing and XID wraparound: freeze ages, relfrozenxid, the 40M warnings and 3M refusal
(scaled), rescue by vacuum, and the data loss that freezing prevents."""

from __future__ import annotations

import random

import pytest

from archlab.storage.mvcc import (
    Engine,
    Isolation,
    MvccSettings,
    WraparoundRefusal,
)
from archlab.storage.mvcc.histories import record
from archlab.storage.mvcc.workloads import balance_of, bank, bank_violations


def burn(engine: Engine, n: int, table: str = "main") -> None:
    """Consume ``n`` XIDs with tiny write transactions (PostgreSQL's consume_xids)."""
    for _ in range(n):
        txn = engine.begin()
        txn.put("counter", 0, table=table)
        txn.commit()


def test_vacuum_freezes_only_tuples_older_than_the_freeze_min_age() -> None:
    engine = Engine(MvccSettings.scaled(16, vacuum_freeze_min_age=100))
    old = engine.begin()
    old.put("old", 1)
    old.commit()
    burn(engine, 150)
    young = engine.begin()
    young.put("young", 1)
    young.commit()
    engine.vacuum(aggressive=True)
    table = engine.table()
    tuples = {tup.key: tup for _, tup in table.heap.tuples()}
    assert tuples["old"].frozen and not tuples["young"].frozen
    # relfrozenxid is now the oldest XID left unfrozen, at or after the freeze limit
    assert table.relfrozenxid == tuples["counter"].xmin or not tuples["counter"].frozen
    assert engine.space.precedes_or_equals(table.relfrozenxid, tuples["young"].xmin)


def test_a_frozen_tuple_is_visible_however_old_it_is() -> None:
    engine = Engine(MvccSettings.scaled(12))
    txn = engine.begin()
    txn.put("x", "kept")
    txn.commit()
    engine.vacuum(freeze=True)
    for _ in range(6):  # three trips around a 12-bit space, freezing as PostgreSQL would
        burn(engine, 700)
        engine.autovacuum()
    reader = engine.begin(Isolation.SERIALIZABLE)
    assert reader.get("x") == "kept"


def test_regular_vacuum_does_not_advance_relfrozenxid_past_skipped_pages() -> None:
    engine = Engine(MvccSettings.scaled(16, tuples_per_page=4))
    txn = engine.begin()
    for i in range(4 * 40):
        txn.put(f"k{i:04d}", 0)
    txn.commit()
    engine.vacuum()  # reads everything: relfrozenxid moves to the oldest unfrozen XID
    before = engine.table().relfrozenxid
    burn(engine, 50, table="main")
    report = engine.vacuum()[0]
    assert report.pages_skipped_all_visible >= 32
    assert engine.table().relfrozenxid == before


def test_anti_wraparound_vacuum_is_forced_past_freeze_max_age_even_with_autovacuum_off() -> None:
    settings = MvccSettings.scaled(16, autovacuum=False)
    engine = Engine(settings, tables=("main", "cold"))
    txn = engine.begin()
    for i in range(100):
        txn.put(f"c{i}", i, table="cold")
    txn.commit()
    burn(engine, settings.autovacuum_freeze_max_age - 1)  # the insert above took one XID
    assert engine.xid_age() == settings.autovacuum_freeze_max_age
    assert engine.autovacuum() == []  # age == freeze_max_age: not yet past it
    burn(engine, 1)
    reports = engine.autovacuum()
    assert {r.table for r in reports} == {"main", "cold"}
    assert all(r.aggressive and r.reason.startswith("anti-wraparound") for r in reports)
    cold = next(r for r in reports if r.table == "cold")
    assert cold.tuples_frozen == 100 and cold.pages_dirtied == cold.pages_read > 0
    assert engine.xid_age() < settings.autovacuum_freeze_max_age
    assert engine.autovacuum() == []


def test_warnings_start_40m_scaled_before_wraparound_and_xids_stop_3m_before() -> None:
    settings = MvccSettings.scaled(16, autovacuum=False)
    engine = Engine(settings)
    limits = engine.xids.limits
    assert engine.space.distance(limits.warn_limit, limits.wrap_limit) == settings.xid_warn_margin
    assert engine.space.distance(limits.stop_limit, limits.wrap_limit) == settings.xid_stop_margin
    to_warn = engine.space.distance(engine.xids.next_xid, limits.warn_limit)
    burn(engine, to_warn)
    assert engine.xids.warnings == 0
    burn(engine, 1)
    assert engine.xids.warnings == 1
    left = settings.xid_warn_margin
    assert engine.xids.last_warning == f"database must be vacuumed within {left} transactions"
    burn(engine, settings.xid_warn_margin - settings.xid_stop_margin - 1)
    txn = engine.begin()
    with pytest.raises(WraparoundRefusal, match="not accepting commands"):
        txn.put("x", 1)
    assert not txn.active and engine.xids.refusals == 1
    reader = engine.begin(Isolation.SERIALIZABLE)
    assert reader.get("counter") == 0  # reads need no XID and still work
    reader.commit()
    engine.vacuum()  # vacuum needs no XID either: it freezes and lifts the limit
    assert not engine.xids.refusing()
    burn(engine, 10)


def test_an_old_transaction_keeps_vacuum_from_rescuing_the_database() -> None:
    settings = MvccSettings.scaled(12)
    engine = Engine(settings)
    burn(engine, 5)
    old = engine.begin(Isolation.REPEATABLE_READ)
    assert old.get("counter") == 0
    refused_at = None
    for i in range(settings.space.horizon):
        try:
            burn(engine, 1)
        except WraparoundRefusal:
            refused_at = i
            break
        if i % 100 == 0:
            engine.autovacuum()
    assert refused_at is not None, "the engine never stopped assigning XIDs"
    assert engine.xids.warnings > 0
    report = engine.vacuum(freeze=True)[0]
    # the horizon is still the old transaction's xmin: relfrozenxid cannot pass it
    assert old.snapshot is not None and report.relfrozenxid_after == old.snapshot.xmin
    assert engine.xids.remaining() <= settings.xid_stop_margin + 1
    with pytest.raises(WraparoundRefusal):
        burn(engine, 2)
    old.commit()
    engine.vacuum(freeze=True)
    assert not engine.xids.refusing()
    burn(engine, 100)


def test_without_the_refusal_and_without_freezing_old_rows_vanish() -> None:
    """What the 3M refusal prevents: past 2^31 XIDs an unfrozen xmin reads as the future."""
    results = {}
    for protection in (True, False):
        settings = MvccSettings.scaled(12, autovacuum=False, wraparound_protection=protection)
        engine = Engine(settings)
        txn = engine.begin()
        txn.put("balance", 100)
        txn.commit()
        consumed = 0
        try:
            while consumed < settings.space.horizon + 10:
                burn(engine, 1)
                consumed += 1
        except WraparoundRefusal:
            pass
        reader = engine.begin()
        results[protection] = (reader.get("balance"), consumed)
    assert results[True][0] == 100 and results[True][1] < 2**11
    assert results[False][0] is None and results[False][1] > 2**11  # the row is gone


def test_commit_log_is_truncated_as_datfrozenxid_advances() -> None:
    engine = Engine(MvccSettings.scaled(12))
    for _ in range(5):
        burn(engine, 300)
        engine.autovacuum()
    assert len(engine.clog) < 2**11
    assert engine.xids.assigned == 1500


def test_xids_cross_2_to_the_32_without_anyone_noticing() -> None:
    settings = MvccSettings(start_xid=2**32 - 40)
    engine = Engine(settings)
    run = record(
        bank(random.Random(1), Isolation.SERIALIZABLE, clients=4, txns_per_client=25),
        1,
        engine=engine,
    )
    assert engine.xids.next_xid < 1000  # wrapped
    assert run.stats.committed > 20
    assert sum(balance_of(v) for v in run.final.values()) == 400
    check = bank_violations(run.events, run.final, 4, 100)
    assert check.audits > 0 and check.bad_audits == 0 and check.overdrawn == 0


@pytest.mark.parametrize("level", list(Isolation))
def test_many_trips_around_a_tiny_xid_space_keep_every_invariant(level: Isolation) -> None:
    """Bank transfers around a 10-bit space (512 XIDs to the horizon) more than once,
    autovacuum freezing all along."""
    settings = MvccSettings.scaled(10)
    workload = bank(random.Random(5), level, clients=4, txns_per_client=450, for_update=True)
    run = record(workload, 5, engine=Engine(settings), vacuum_every=3)
    engine = run.engine
    assert engine.xids.assigned > settings.space.modulus
    assert engine.xids.refusals == 0
    assert sum(balance_of(v) for v in run.final.values()) == 400
    check = bank_violations(run.events, run.final, 4, 100)
    assert check.overdrawn == 0
    if level is not Isolation.READ_COMMITTED:  # read committed audits may see half a transfer
        assert check.bad_audits == 0
