"""The seeded scheduler: deterministic interleavings, blocking, and histories."""

from __future__ import annotations

import random

import pytest

from archlab.check.history import dumps, pair
from archlab.storage.mvcc import Engine, Isolation
from archlab.storage.mvcc.histories import record
from archlab.storage.mvcc.scheduler import Get, Program, Put, Rollback, Scheduler
from archlab.storage.mvcc.workloads import bank, list_append


def test_the_same_seed_gives_the_same_history() -> None:
    first = record(list_append(random.Random(7), Isolation.SERIALIZABLE), seed=7, vacuum_every=5)
    second = record(list_append(random.Random(7), Isolation.SERIALIZABLE), seed=7, vacuum_every=5)
    assert dumps(first.events) == dumps(second.events)
    assert first.stats == second.stats
    third = record(list_append(random.Random(7), Isolation.SERIALIZABLE), seed=8)
    assert dumps(third.events) != dumps(first.events)


@pytest.mark.parametrize("level", list(Isolation))
def test_every_transaction_completes_exactly_once(level: Isolation) -> None:
    run = record(bank(random.Random(3), level, clients=5, txns_per_client=12), seed=3)
    ops = pair(run.events)
    assert len(ops) == 5 * 12 + 1  # plus the recorded setup
    assert all(op.status in ("ok", "fail") for op in ops)
    assert run.stats.attempted == 5 * 12  # the setup ran on its own scheduler
    assert sum(op.status == "ok" for op in ops) == run.stats.committed + 1


def test_blocked_clients_resume_and_deadlocks_break_cycles() -> None:
    engine = Engine()
    setup = engine.begin()
    setup.put("x", 0)
    setup.put("y", 0)
    setup.commit()

    def writer(first: str, second: str) -> Program:
        def body():  # type: ignore[no-untyped-def]
            yield Put(first, 1)
            yield Put(second, 1)
            return [["w", first, 1], ["w", second, 1]]

        return Program(Isolation.READ_COMMITTED, None, body)

    kinds: set[str] = set()
    for seed in range(30):
        scheduler = Scheduler(engine, random.Random(seed))
        stats = scheduler.run([[writer("x", "y")], [writer("y", "x")]])
        assert stats.attempted == 2
        kinds |= set(stats.failed)
        assert stats.committed >= 1
    assert "DeadlockDetected" in kinds  # some interleavings deadlock, and are resolved


def test_a_rollback_completes_as_fail_with_the_invoke_value() -> None:
    engine = Engine()

    def body():  # type: ignore[no-untyped-def]
        yield Put("x", 1)
        seen = yield Get("missing")
        assert seen is None
        return Rollback("nothing there")

    scheduler = Scheduler(engine, random.Random(0))
    invoke = [["w", "x", 1], ["r", "missing", None]]
    scheduler.run([[Program(Isolation.SERIALIZABLE, invoke, body)]])
    fail = scheduler.recorder.events[-1]
    assert fail.type == "fail" and fail.value == (("w", "x", 1), ("r", "missing", None))
    assert scheduler.stats.failed == {"Rollback": 1}
    reader = engine.begin()
    assert reader.get("x") is None  # rolled back


def test_an_undetected_deadlock_is_reported_not_hung() -> None:
    class NoDeadlockDetection(Engine):
        def _closes_cycle(self, waiter, holder):  # type: ignore[no-untyped-def]
            return False

    engine = NoDeadlockDetection()

    def writer(first: str, second: str) -> Program:
        def body():  # type: ignore[no-untyped-def]
            yield Put(first, 1)
            yield Put(second, 1)
            return []

        return Program(Isolation.READ_COMMITTED, None, body)

    with pytest.raises(RuntimeError, match="deadlock went undetected"):
        for seed in range(50):
            Scheduler(engine, random.Random(seed)).run([[writer("x", "y")], [writer("y", "x")]])


def test_recorded_histories_round_trip_through_the_history_format(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from archlab.check.history import dump, load

    run = record(bank(random.Random(4), Isolation.SERIALIZABLE), seed=4)
    path = tmp_path / "bank.jsonl"
    dump(run.events, path)
    loaded = load(path)
    assert [e.to_dict() for e in loaded] == [e.to_dict() for e in run.events]
    ops = pair(loaded, str(path))
    assert all(op.f == "txn" for op in ops)
    for op in ops:  # completions repeat the invocation's micro-operations, reads filled in
        if op.status == "ok":
            assert [m[:2] for m in op.output] == [m[:2] for m in op.value]
