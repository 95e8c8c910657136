"""Row locks: writers wait for writers, waits form a graph, cycles are deadlocks."""

from __future__ import annotations

import pytest

from archlab.storage.mvcc import DeadlockDetected, Engine, Isolation, LockWait, TxnState


def seeded(*keys: str) -> Engine:
    engine = Engine()
    setup = engine.begin()
    for key in keys:
        setup.put(key, 0)
    setup.commit()
    return engine


def test_readers_never_wait_for_writers() -> None:
    engine = seeded("x")
    writer = engine.begin()
    writer.put("x", 1)
    for level in Isolation:
        reader = engine.begin(level)
        assert reader.get("x") == 0
        assert reader.scan() == [("x", 0)]


def test_a_locking_read_waits_and_blocks_writers() -> None:
    engine = seeded("x")
    locker = engine.begin()
    assert locker.get("x", for_update=True) == 0
    other = engine.begin()
    with pytest.raises(LockWait):
        other.put("x", 1)
    with pytest.raises(LockWait):
        other.get("x", for_update=True)
    assert other.get("x") == 0  # a plain read is not blocked by a row lock
    locker.commit()  # a lock-only xmax of a committed transaction does not delete the row
    other.put("x", 1)
    other.commit()


def test_a_lock_alone_does_not_conflict_under_repeatable_read() -> None:
    engine = seeded("x")
    locker, writer = engine.begin(), engine.begin(Isolation.REPEATABLE_READ)
    writer.get("x")
    locker.get("x", for_update=True)
    locker.commit()
    writer.put("x", 5)  # the row was only locked, not updated: no serialization failure
    writer.commit()


def test_waiting_on_an_insert_in_progress() -> None:
    engine = Engine()
    a, b = engine.begin(), engine.begin()
    a.put("new", 1)
    with pytest.raises(LockWait):
        b.put("new", 2)
    a.commit()
    b.put("new", 2)  # read committed: an upsert onto the row a inserted
    b.commit()


def test_two_transactions_locking_in_opposite_order_deadlock() -> None:
    engine = seeded("x", "y")
    a, b = engine.begin(), engine.begin()
    a.put("x", 1)
    b.put("y", 1)
    with pytest.raises(LockWait):
        a.put("y", 2)
    with pytest.raises(DeadlockDetected):
        b.put("x", 2)
    assert b.state is TxnState.ABORTED
    a.put("y", 2)  # the victim's locks are gone
    a.commit()


def test_a_three_way_cycle_is_detected_by_the_one_closing_it() -> None:
    engine = seeded("x", "y", "z")
    a, b, c = engine.begin(), engine.begin(), engine.begin()
    a.put("x", 1)
    b.put("y", 1)
    c.put("z", 1)
    with pytest.raises(LockWait):
        a.put("y", 2)  # a -> b
    with pytest.raises(LockWait):
        b.put("z", 2)  # b -> c
    with pytest.raises(DeadlockDetected):
        c.put("x", 2)  # c -> a closes a -> b -> c -> a
    assert a.active and b.active and c.state is TxnState.ABORTED


def test_a_chain_of_waits_is_not_a_deadlock() -> None:
    engine = seeded("x", "y")
    a, b, c = engine.begin(), engine.begin(), engine.begin()
    a.put("x", 1)
    b.put("y", 1)
    with pytest.raises(LockWait):
        b.put("x", 2)  # b -> a
    with pytest.raises(LockWait):
        c.put("y", 2)  # c -> b -> a: no cycle
    a.commit()
    b.put("x", 2)
    b.commit()
    c.put("y", 2)
    c.commit()


def test_a_waiter_that_moves_on_no_longer_counts_as_waiting() -> None:
    engine = seeded("x", "y")
    a, b = engine.begin(), engine.begin()
    a.put("x", 1)
    with pytest.raises(LockWait):
        b.put("x", 2)
    b.put("y", 2)  # b gave up on x and did something else
    with pytest.raises(LockWait):
        a.put("y", 3)  # a waits for b, but b no longer waits for a: no deadlock
    b.commit()
    a.put("y", 3)
    a.commit()
