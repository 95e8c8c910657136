"""Concurrent transactions, deterministically: a seeded scheduler interleaving statements
(codex 4.3, 5.1).

A transaction is a :class:`Program`: its isolation level, the value its history entry is
invoked with, and a *body*, a generator that yields statements (:class:`Get`, :class:`Put`,
:class:`Delete`, :class:`Scan`), receives their results, and returns the value its history entry
completes with (or :class:`Rollback` to roll back on purpose)::

    def transfer() -> Body:
        a = yield Get("alice")
        b = yield Get("bob")
        yield Put("alice", a - 10)
        yield Put("bob", b + 10)
        return [["r", "alice", a], ["r", "bob", b], ...]

Each client runs its programs one after another. At every tick the scheduler picks one runnable
client with its seeded ``random.Random`` and runs one step of it: begin a transaction, execute
its next statement, or commit. A statement that raises :class:`LockWait` blocks its client until
the transaction it waits for has finished; then the same statement runs again. Errors roll the
transaction back (the engine does that) and complete it as ``fail``. The same seed gives the same
interleaving and the same history, event for event.

Histories are written with :class:`archlab.check.history.Recorder` (``f = "txn"``), ready for the
isolation checker; the tick is the event time.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from archlab.check.history import Recorder
from archlab.storage.mvcc.engine import Engine
from archlab.storage.mvcc.errors import LockWait, TransactionError
from archlab.storage.mvcc.transaction import DEFAULT_TABLE, Isolation, Transaction


@dataclass(frozen=True)
class Get:
    key: str
    for_update: bool = False
    table: str = DEFAULT_TABLE


@dataclass(frozen=True)
class Put:
    key: str
    value: Any
    table: str = DEFAULT_TABLE


@dataclass(frozen=True)
class Delete:
    key: str
    table: str = DEFAULT_TABLE


@dataclass(frozen=True)
class Scan:
    start: str | None = None
    end: str | None = None
    table: str = DEFAULT_TABLE


Statement = Get | Put | Delete | Scan


@dataclass(frozen=True)
class Rollback:
    """Returned by a body to roll its transaction back on purpose (an application decision)."""

    reason: str


Body = Generator[Statement, Any, Any]


@dataclass(frozen=True)
class Program:
    """One transaction to run: level, history value at invoke, and the body.

    The invoke value lists the micro-operations with every written value and ``None`` for
    each read; an ``ok`` completion repeats them with the reads filled in, and a ``fail`` one
    repeats the invoke value (the checker takes a failed transaction's writes from there).
    """

    isolation: Isolation
    invoke: Any
    body: Callable[[], Body]
    f: str = "txn"


def execute(txn: Transaction, statement: Statement) -> Any:
    """Run one statement on ``txn``."""
    if isinstance(statement, Get):
        return txn.get(statement.key, for_update=statement.for_update, table=statement.table)
    if isinstance(statement, Put):
        txn.put(statement.key, statement.value, table=statement.table)
        return None
    if isinstance(statement, Delete):
        return txn.delete(statement.key, table=statement.table)
    return txn.scan(statement.start, statement.end, table=statement.table)


@dataclass
class RunStats:
    """What happened during one scheduled run."""

    ticks: int = 0
    committed: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    waits: int = 0

    @property
    def attempted(self) -> int:
        return self.committed + sum(self.failed.values())

    def fail(self, kind: str) -> None:
        self.failed[kind] = self.failed.get(kind, 0) + 1


@dataclass
class _Client:
    process: int | str
    programs: Iterator[Program]
    program: Program | None = None
    txn: Transaction | None = None
    body: Body | None = None
    pending: Statement | None = None
    reply: Any = None
    started: bool = False
    blocked_on: int | None = None
    done: bool = False


class Scheduler:
    """Interleaves clients' transactions on one engine, one seeded step at a time."""

    def __init__(
        self,
        engine: Engine,
        rng: random.Random,
        recorder: Recorder | None = None,
        on_tick: Callable[[int], None] | None = None,
    ) -> None:
        self.engine = engine
        self.rng = rng
        self.recorder = recorder if recorder is not None else Recorder()
        self.on_tick = on_tick
        self.stats = RunStats()

    def run(self, clients: Sequence[Iterable[Program]], max_ticks: int = 10_000_000) -> RunStats:
        """Run every client's programs to the end; returns the counts."""
        states = [_Client(i, iter(programs)) for i, programs in enumerate(clients)]
        engine = self.engine
        while True:
            runnable = [
                c
                for c in states
                if not c.done and (c.blocked_on is None or not engine.is_active(c.blocked_on))
            ]
            if not runnable:
                if any(not c.done for c in states):
                    raise RuntimeError("every client is blocked: a deadlock went undetected")
                return self.stats
            if self.stats.ticks >= max_ticks:
                raise RuntimeError(f"run did not finish within {max_ticks} ticks")
            self._step(self.rng.choice(runnable))
            self.stats.ticks += 1
            if self.on_tick is not None:
                self.on_tick(self.stats.ticks)

    def run_one(self, program: Program, process: int | str = "setup") -> bool:
        """Run ``program`` alone, start to end (setup and final reads); True if it committed."""
        client = _Client(process, iter([program]))
        before = self.stats.committed
        while not client.done:
            self._step(client)
            if client.blocked_on is not None and self.engine.is_active(client.blocked_on):
                raise RuntimeError(f"{process} blocked on transaction {client.blocked_on}")
        return self.stats.committed > before

    # -- one step ------------------------------------------------------------------------------

    def _step(self, client: _Client) -> None:
        if client.txn is None:
            program = next(client.programs, None)
            if program is None:
                client.done = True
                return
            client.program = program
            client.txn = self.engine.begin(program.isolation)
            client.body = program.body()
            client.pending = None
            client.reply = None
            client.started = False
            self.recorder.invoke(client.process, program.f, program.invoke, time=self._now())
            return
        assert client.body is not None and client.program is not None
        if client.pending is None:
            try:
                if client.started:
                    client.pending = client.body.send(client.reply)
                else:
                    client.started = True
                    client.pending = next(client.body)
            except StopIteration as finished:
                self._finish(client, finished.value)
                return
        client.blocked_on = None
        try:
            client.reply = execute(client.txn, client.pending)
        except LockWait as wait:
            client.blocked_on = wait.holder
            self.stats.waits += 1
            return
        except TransactionError as error:
            self._failed(client, type(error).__name__)
            return
        client.pending = None

    def _finish(self, client: _Client, outcome: Any) -> None:
        assert client.txn is not None and client.program is not None
        program = client.program
        if isinstance(outcome, Rollback):
            client.txn.abort()
            self.recorder.fail(client.process, program.f, program.invoke, time=self._now())
            self.stats.fail("Rollback")
            self._reset(client)
            return
        try:
            client.txn.commit()
        except TransactionError as error:
            self._failed(client, type(error).__name__)
            return
        self.recorder.ok(client.process, program.f, outcome, time=self._now())
        self.stats.committed += 1
        self._reset(client)

    def _failed(self, client: _Client, kind: str) -> None:
        assert client.program is not None
        program = client.program
        self.recorder.fail(client.process, program.f, program.invoke, time=self._now())
        self.stats.fail(kind)
        self._reset(client)

    def _reset(self, client: _Client) -> None:
        if client.body is not None:
            client.body.close()
        client.txn = None
        client.body = None
        client.program = None
        client.pending = None
        client.blocked_on = None

    def _now(self) -> float:
        return float(self.stats.ticks)
