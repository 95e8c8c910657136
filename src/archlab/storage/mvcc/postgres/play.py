"""Play a schedule on an engine, with the same rules for blocked statements on both (codex 4.3).

:func:`play` walks a :class:`~archlab.storage.mvcc.postgres.schedules.Schedule` in order. A
transaction begins at its first statement (``BEGIN ISOLATION LEVEL ...``; the snapshot is taken
by that first statement on both engines). A statement that has to wait for a row lock leaves
its transaction *blocked*: the transaction's later steps queue behind it while the other
transactions go on. After every step each blocked statement is polled; once it completes (its
lock holder finished) the transaction's queued steps run at once, in order. A statement that
fails rolls its transaction back; its later steps are skipped. The engines differ only in the
:class:`Backend` that executes a statement: :class:`ArchlabBackend` here, and
:class:`~archlab.storage.mvcc.postgres.pgbackend.PostgresBackend` against a real server.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from archlab.storage.mvcc.engine import Engine
from archlab.storage.mvcc.errors import LockWait, TransactionError
from archlab.storage.mvcc.postgres.schedules import (
    Abort,
    Commit,
    Derived,
    Op,
    Outcome,
    Read,
    ReadValue,
    Scan,
    Schedule,
    Write,
)
from archlab.storage.mvcc.transaction import Isolation, Transaction


@dataclass(frozen=True)
class Done:
    value: ReadValue = None


@dataclass(frozen=True)
class Blocked:
    pass


@dataclass(frozen=True)
class Failed:
    sqlstate: str


Status = Done | Blocked | Failed


class Backend(Protocol):
    """One engine, one schedule run: transactions by name, statements one at a time."""

    def reset(self, setup: dict[str, int]) -> None: ...
    def begin(self, txn: str, level: Isolation) -> None: ...
    def submit(self, txn: str, op: Op, value: int | None) -> Status: ...
    def poll(self, txn: str) -> Status: ...
    def release(self, txn: str) -> None: ...
    def final(self) -> dict[str, int]: ...


def play(schedule: Schedule, level: Isolation, backend: Backend) -> Outcome:
    """Run ``schedule`` at ``level`` on ``backend`` and report what happened."""
    backend.reset(schedule.setup)
    player = _Player(schedule, level, backend)
    for step in schedule.steps:
        if step.txn in player.blocked:
            player.queued[step.txn].append(step.op)
        else:
            player.run(step.txn, step.op)
        player.settle()
    for txn in schedule.transactions:
        if txn in player.begun and txn not in player.ended:
            backend.release(txn)
    return Outcome(
        player.reads,
        frozenset(player.committed),
        player.failed,
        backend.final(),
        frozenset(player.blocked),
    )


class _Player:
    """The state of one run: which transactions began, ended, wait, and what they read."""

    def __init__(self, schedule: Schedule, level: Isolation, backend: Backend) -> None:
        self.level = level
        self.backend = backend
        self.reads: dict[str, ReadValue] = {}
        self.committed: set[str] = set()
        self.failed: dict[str, str] = {}
        self.ended: set[str] = set()  # committed, failed, or rolled back by the schedule
        self.begun: set[str] = set()
        self.blocked: dict[str, Op] = {}
        self.queued: dict[str, deque[Op]] = {txn: deque() for txn in schedule.transactions}

    def run(self, txn: str, op: Op) -> None:
        if txn in self.ended:
            return
        if txn not in self.begun:
            self.begun.add(txn)
            self.backend.begin(txn, self.level)
        value = _value(op.value, self.reads) if isinstance(op, Write) else None
        status = self.backend.submit(txn, op, value)
        if isinstance(status, Blocked):
            self.blocked[txn] = op
        else:
            self.finish(txn, op, status)

    def finish(self, txn: str, op: Op, status: Done | Failed) -> None:
        if isinstance(status, Failed):
            self.failed[txn] = status.sqlstate
            self.ended.add(txn)
            self.queued[txn].clear()
        elif isinstance(op, Read | Scan):
            self.reads[op.label] = status.value
        elif isinstance(op, Commit | Abort):
            self.ended.add(txn)
            if isinstance(op, Commit):
                self.committed.add(txn)

    def settle(self) -> None:
        """Poll every blocked statement until none makes progress."""
        progressed = True
        while progressed:
            progressed = False
            for txn, op in list(self.blocked.items()):
                status = self.backend.poll(txn)
                if isinstance(status, Blocked):
                    continue
                del self.blocked[txn]
                self.finish(txn, op, status)
                progressed = True
                while self.queued[txn] and txn not in self.blocked:
                    self.run(txn, self.queued[txn].popleft())


def _value(value: int | Derived, reads: dict[str, ReadValue]) -> int:
    if isinstance(value, int):
        return value
    base = reads.get(value.label)
    if not isinstance(base, int):
        raise ValueError(f"write derived from read {value.label!r}, which returned {base!r}")
    return base + value.delta


class ArchlabBackend:
    """The schedule's statements on archlab's MVCC engine, a fresh engine per run
    (``engine_factory`` lets tests swap in deliberately broken engines)."""

    def __init__(self, engine_factory: Callable[[], Engine] = Engine) -> None:
        self.engine_factory = engine_factory
        self.engine = engine_factory()
        self.txns: dict[str, Transaction] = {}
        self.waiting: dict[str, tuple[Op, int | None]] = {}

    def reset(self, setup: dict[str, int]) -> None:
        self.engine = self.engine_factory()
        self.txns = {}
        self.waiting = {}
        loader = self.engine.begin()
        for key, value in setup.items():
            loader.put(key, value)
        loader.commit()

    def begin(self, txn: str, level: Isolation) -> None:
        self.txns[txn] = self.engine.begin(level)

    def submit(self, txn: str, op: Op, value: int | None) -> Status:
        handle = self.txns[txn]
        try:
            result = _execute(handle, op, value)
        except LockWait:
            self.waiting[txn] = (op, value)
            return Blocked()
        except TransactionError as error:
            return Failed(error.sqlstate)
        return Done(result)

    def poll(self, txn: str) -> Status:
        op, value = self.waiting.pop(txn)
        return self.submit(txn, op, value)

    def release(self, txn: str) -> None:
        self.txns[txn].abort()

    def final(self) -> dict[str, int]:
        reader = self.engine.begin()
        rows = dict(reader.scan())
        reader.commit()
        return {k: int(v) for k, v in rows.items()}


def _execute(txn: Transaction, op: Op, value: int | None) -> ReadValue:
    if isinstance(op, Read):
        found = txn.get(op.key, for_update=op.for_update)
        return None if found is None else int(found)
    if isinstance(op, Write):
        txn.put(op.key, value)
        return None
    if isinstance(op, Scan):
        return tuple((k, int(v)) for k, v in txn.scan(op.lo, op.hi))
    if isinstance(op, Commit):
        txn.commit()
        return None
    if isinstance(op, Abort):
        txn.abort()
        return None
    raise TypeError(f"unknown statement {op!r}")
