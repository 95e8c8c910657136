"""What each isolation level lets a transaction see and write, scenario by scenario."""

from __future__ import annotations

import pytest

from archlab.storage.mvcc import (
    Engine,
    Isolation,
    LockWait,
    SerializationFailure,
    TransactionClosed,
    TxnState,
)

RC, RR, SER = Isolation.READ_COMMITTED, Isolation.REPEATABLE_READ, Isolation.SERIALIZABLE


def seeded(**rows: object) -> Engine:
    engine = Engine()
    setup = engine.begin()
    for key, value in rows.items():
        setup.put(key, value)
    setup.commit()
    return engine


@pytest.mark.parametrize("level", list(Isolation))
def test_no_level_reads_uncommitted_writes(level: Isolation) -> None:
    engine = seeded(x=1)
    writer = engine.begin(RC)
    writer.put("x", 2)
    writer.put("y", 9)
    reader = engine.begin(level)
    assert reader.get("x") == 1
    assert reader.get("y") is None
    assert reader.scan() == [("x", 1)]
    writer.abort()
    assert reader.get("x") == 1


@pytest.mark.parametrize("level", list(Isolation))
def test_a_transaction_sees_its_own_writes(level: Isolation) -> None:
    engine = seeded(x=1)
    txn = engine.begin(level)
    txn.put("x", 2)
    txn.put("y", 3)
    assert txn.get("x") == 2
    assert txn.delete("y")
    assert txn.get("y") is None
    assert txn.scan() == [("x", 2)]
    txn.put("y", 4)
    assert txn.get("y") == 4
    txn.commit()
    assert seeded_view(engine) == {"x": 2, "y": 4}


def seeded_view(engine: Engine) -> dict[str, object]:
    reader = engine.begin()
    rows = dict(reader.scan())
    reader.commit()
    return rows


def test_read_committed_takes_a_new_snapshot_per_statement() -> None:
    engine = seeded(x=1)
    reader = engine.begin(RC)
    assert reader.get("x") == 1
    writer = engine.begin(RC)
    writer.put("x", 2)
    writer.commit()
    assert reader.get("x") == 2  # a non-repeatable read: allowed at read committed


@pytest.mark.parametrize("level", [RR, SER])
def test_repeatable_read_keeps_the_first_statements_snapshot(level: Isolation) -> None:
    engine = seeded(x=1)
    reader = engine.begin(level)
    writer = engine.begin(RC)
    writer.put("x", 2)
    writer.commit()
    # the snapshot is taken by the first statement, not by begin()
    assert reader.get("x") == 2
    again = engine.begin(RC)
    again.put("x", 3)
    again.put("z", 1)
    again.commit()
    assert reader.get("x") == 2
    assert reader.scan() == [("x", 2)]  # no phantom z either


@pytest.mark.parametrize("level", [RR, SER])
def test_first_updater_wins(level: Isolation) -> None:
    engine = seeded(x=1)
    first, second = engine.begin(level), engine.begin(level)
    assert first.get("x") == 1 and second.get("x") == 1
    first.put("x", 2)
    with pytest.raises(LockWait) as wait:
        second.put("x", 3)
    assert wait.value.holder == first.id
    assert second.active and second.get("x") == 1  # waiting changed nothing
    first.commit()
    with pytest.raises(SerializationFailure, match="concurrent update"):
        second.put("x", 3)
    assert second.state is TxnState.ABORTED
    assert seeded_view(engine) == {"x": 2}


@pytest.mark.parametrize("level", [RR, SER])
def test_the_second_updater_proceeds_when_the_first_aborts(level: Isolation) -> None:
    engine = seeded(x=1)
    first, second = engine.begin(level), engine.begin(level)
    second.get("x")
    first.put("x", 2)
    with pytest.raises(LockWait):
        second.put("x", 3)
    first.abort()
    second.put("x", 3)
    second.commit()
    assert seeded_view(engine) == {"x": 3}


@pytest.mark.parametrize("level", [RR, SER])
def test_updating_a_concurrently_deleted_row_fails(level: Isolation) -> None:
    engine = seeded(x=1)
    deleter, updater = engine.begin(RC), engine.begin(level)
    updater.get("x")
    assert deleter.delete("x")
    deleter.commit()
    with pytest.raises(SerializationFailure, match="concurrent delete"):
        updater.put("x", 5)


@pytest.mark.parametrize("level", [RR, SER])
def test_upserting_a_concurrently_inserted_key_fails(level: Isolation) -> None:
    engine = seeded(a=1)
    late, inserter = engine.begin(level), engine.begin(RC)
    late.get("a")
    inserter.put("new", 1)
    inserter.commit()
    with pytest.raises(SerializationFailure, match="concurrent insert"):
        late.put("new", 2)


def test_read_committed_rereads_the_newest_version_after_waiting() -> None:
    engine = seeded(x=(1,))
    first, second = engine.begin(RC), engine.begin(RC)
    current = first.get("x", for_update=True)
    first.put("x", (*current, 2))
    with pytest.raises(LockWait):
        second.get("x", for_update=True)
    first.commit()
    current = second.get("x", for_update=True)  # EvalPlanQual: the version first wrote
    assert current == (1, 2)
    second.put("x", (*current, 3))
    second.commit()
    assert seeded_view(engine) == {"x": (1, 2, 3)}


def test_read_committed_loses_updates_that_read_without_locking() -> None:
    engine = seeded(counter=0)
    a, b = engine.begin(RC), engine.begin(RC)
    va, vb = a.get("counter"), b.get("counter")
    a.put("counter", va + 1)
    with pytest.raises(LockWait):
        b.put("counter", vb + 1)
    a.commit()
    b.put("counter", vb + 1)  # overwrites a's increment: a lost update
    b.commit()
    assert seeded_view(engine) == {"counter": 1}


def test_repeatable_read_prevents_that_lost_update() -> None:
    engine = seeded(counter=0)
    a, b = engine.begin(RR), engine.begin(RR)
    va, vb = a.get("counter"), b.get("counter")
    a.put("counter", va + 1)
    a.commit()
    with pytest.raises(SerializationFailure):
        b.put("counter", vb + 1)
    assert seeded_view(engine) == {"counter": 1}


def test_read_committed_delete_of_a_row_deleted_while_waiting_finds_nothing() -> None:
    engine = seeded(x=1)
    a, b = engine.begin(RC), engine.begin(RC)
    assert a.delete("x")
    with pytest.raises(LockWait):
        b.delete("x")
    a.commit()
    assert not b.delete("x")
    assert b.active


def doctors_on_call(level: Isolation) -> tuple[Engine, list[Exception]]:
    engine = seeded(alice=True, bob=True)
    errors: list[Exception] = []
    a, b = engine.begin(level), engine.begin(level)
    try:
        if a.get("alice") and a.get("bob"):
            a.put("alice", False)
        if b.get("alice") and b.get("bob"):
            b.put("bob", False)
        a.commit()
        b.commit()
    except SerializationFailure as exc:
        errors.append(exc)
    return engine, errors


def test_repeatable_read_allows_write_skew() -> None:
    engine, errors = doctors_on_call(RR)
    assert not errors
    assert seeded_view(engine) == {"alice": False, "bob": False}  # nobody on call


def test_serializable_aborts_the_write_skew() -> None:
    engine, errors = doctors_on_call(SER)
    assert len(errors) == 1
    assert sum(seeded_view(engine).values()) == 1  # exactly one doctor still on call


def test_serializable_catches_the_read_only_anomaly() -> None:
    """Fekete, O'Neil & O'Neil 2004: a read-only transaction observes a state no serial order
    explains. PostgreSQL's SSI aborts the pivot (the withdrawal)."""
    engine = seeded(checking=0, savings=0)
    withdraw = engine.begin(SER)
    total = withdraw.get("checking") + withdraw.get("savings")
    deposit = engine.begin(SER)
    deposit.put("savings", deposit.get("savings") + 20)
    deposit.commit()
    report = engine.begin(SER)
    assert (report.get("checking"), report.get("savings")) == (0, 20)
    report.commit()
    fee = 1 if total < 10 else 0
    with pytest.raises(SerializationFailure):
        withdraw.put("checking", withdraw.get("checking") - 10 - fee)
    assert seeded_view(engine) == {"checking": 0, "savings": 20}


def test_same_read_only_schedule_commits_under_repeatable_read() -> None:
    engine = seeded(checking=0, savings=0)
    withdraw = engine.begin(RR)
    total = withdraw.get("checking") + withdraw.get("savings")
    deposit = engine.begin(RR)
    deposit.put("savings", deposit.get("savings") + 20)
    deposit.commit()
    withdraw.put("checking", -10 - (1 if total < 10 else 0))
    withdraw.commit()
    assert seeded_view(engine) == {"checking": -11, "savings": 20}


def test_serializable_catches_a_phantom_through_a_range_scan() -> None:
    """Two transactions each count the rows in a range and insert one if fewer than 2."""
    engine = seeded(**{"slot-a": 1})
    t1, t2 = engine.begin(SER), engine.begin(SER)
    assert len(t1.scan("slot-", "slot.")) == 1
    assert len(t2.scan("slot-", "slot.")) == 1
    t1.put("slot-b", 1)
    t2.put("slot-c", 1)
    t1.commit()
    with pytest.raises(SerializationFailure):
        t2.commit()


def test_serializable_allows_disjoint_work() -> None:
    engine = seeded(a=1, b=1)
    t1, t2 = engine.begin(SER), engine.begin(SER)
    t1.put("a", t1.get("a") + 1)
    t2.put("b", t2.get("b") + 1)
    t1.commit()
    t2.commit()
    assert seeded_view(engine) == {"a": 2, "b": 2}


def test_read_only_transactions_consume_no_xids() -> None:
    engine = seeded(x=1)
    before = engine.xids.next_xid
    for level in Isolation:
        txn = engine.begin(level)
        txn.get("x")
        txn.scan()
        txn.commit()
    assert engine.xids.next_xid == before
    writer = engine.begin()
    writer.put("x", 2)
    assert writer.xid == before and engine.xids.next_xid == before + 1


def test_finished_transactions_refuse_statements() -> None:
    engine = seeded(x=1)
    txn = engine.begin()
    txn.commit()
    with pytest.raises(TransactionClosed):
        txn.get("x")
    with pytest.raises(TransactionClosed):
        txn.commit()
    txn.abort()  # rolling back a finished transaction is a no-op


def test_unknown_levels_and_tables_are_named() -> None:
    from archlab.errors import UnknownNameError

    engine = Engine()
    with pytest.raises(UnknownNameError, match="isolation level"):
        engine.begin("snapshot")
    with pytest.raises(UnknownNameError, match="table"):
        engine.begin().get("x", table="nope")
