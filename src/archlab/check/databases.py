"""Transactional histories from small in-memory databases at known isolation levels
(codex 5.1 test data).

:func:`txn_history` runs concurrent clients against a multi-version store under one of four
concurrency controls, each a correct implementation of its level, and records the list-append
or rw-register history:

- ``strict-serializable``: a transaction executes atomically at one tick between its
  invocation and its completion (so real-time order is respected);
- ``serializable``: the same, except that read-only transactions read a snapshot ``lag`` ticks
  old, as from a lagging replica: still one serial order, no longer real-time order;
- ``snapshot-isolation``: reads from a snapshot taken when the transaction starts, writes
  installed at commit, first committer wins on write-write conflicts (so write skew happens);
- ``read-committed``: each read sees the latest committed version when it runs, writes are
  buffered until commit, no conflict checks (so read skew and lost updates happen), except
  that a transaction that read a list with its own appends at the end aborts if the list
  changed before it committed (its appends must land where it saw them).

Clients time out (``info``: the transaction may still commit later, or never) and the
database aborts some transactions (``fail``: nothing installed). Appended and written values
are unique per key, as Elle's workloads require. Tests check that each level's histories
pass the checker at that level; benchmarks use them as load.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Literal

from archlab.check.history import Event, Recorder

Isolation = Literal["strict-serializable", "serializable", "snapshot-isolation", "read-committed"]
TxnWorkload = Literal["list-append", "rw-register"]


@dataclass
class _Txn:
    process: int
    plan: list[list[Any]]  # micro-ops as invoked: [f, key, value or None]
    fate: Literal["ok", "info"]
    started: int | None = None  # snapshot tick (snapshot isolation, stale reads)
    done: list[list[Any]] = field(default_factory=list)  # micro-ops executed, reads filled in
    writes: dict[Hashable, Any] = field(default_factory=dict)  # buffered: key -> new value
    result: Literal["ok", "fail"] | None = None
    # read committed: versions of a key when the transaction read it with its own appends
    pinned: dict[Hashable, int] = field(default_factory=dict)


class _Store:
    """Committed versions of every key, by commit tick."""

    def __init__(self, workload: TxnWorkload) -> None:
        self.empty: Any = () if workload == "list-append" else None
        self.ticks: dict[Hashable, list[int]] = {}
        self.values: dict[Hashable, list[Any]] = {}

    def read(self, key: Hashable, at: int | None = None) -> Any:
        ticks = self.ticks.get(key, [])
        i = len(ticks) if at is None else bisect.bisect_right(ticks, at)
        return self.values[key][i - 1] if i else self.empty

    def last_commit(self, key: Hashable) -> int:
        ticks = self.ticks.get(key)
        return ticks[-1] if ticks else -1

    def install(self, key: Hashable, value: Any, tick: int) -> None:
        self.ticks.setdefault(key, []).append(tick)
        self.values.setdefault(key, []).append(value)


def txn_history(  # noqa: PLR0912, PLR0915 - one branch per operation kind of the simulated database, kept together so its isolation rules read as one
    rng: random.Random,
    *,
    workload: TxnWorkload = "list-append",
    isolation: Isolation = "strict-serializable",
    processes: int = 5,
    txns: int = 100,
    keys: int = 5,
    max_ops: int = 4,
    read_ratio: float = 0.5,
    info_rate: float = 0.05,
    abort_rate: float = 0.05,
    lag: int = 10,
) -> list[Event]:
    """A history of ``txns`` transactions by ``processes`` clients over ``keys`` keys."""
    rec = Recorder()
    store = _Store(workload)
    write_f = "append" if workload == "list-append" else "w"
    counters: dict[Hashable, int] = {}
    pending: dict[int, _Txn] = {}
    orphans: list[_Txn] = []
    issued = 0
    tick = 0

    def plan() -> list[list[Any]]:
        ops = []
        for _ in range(rng.randint(1, max_ops)):
            key = rng.randrange(keys)
            if rng.random() < read_ratio:
                ops.append(["r", key, None])
            else:
                counters[key] = counters.get(key, 0) + 1
                ops.append([write_f, key, counters[key]])
        return ops

    def visible(txn: _Txn, key: Hashable) -> Any:
        """What a read of ``key`` by ``txn`` returns now."""
        if isolation == "snapshot-isolation" or (
            isolation == "serializable" and txn.started is not None
        ):
            base = store.read(key, txn.started)
        else:
            base = store.read(key)
        if key in txn.writes:
            if workload == "rw-register":
                return txn.writes[key]
            txn.pinned.setdefault(key, len(store.ticks.get(key, ())))
            return (*base, *txn.writes[key])
        return base

    def execute(txn: _Txn, op: list[Any]) -> None:
        f, key, value = op
        if f == "r":
            read = visible(txn, key)
            txn.done.append(["r", key, list(read) if workload == "list-append" else read])
        else:
            if workload == "list-append":
                txn.writes[key] = (*txn.writes.get(key, ()), value)
            else:
                txn.writes[key] = value
            txn.done.append(list(op))

    def commit(txn: _Txn) -> None:
        if any(len(store.ticks.get(key, ())) != n for key, n in txn.pinned.items()):
            # It read its own appends at the end of the list; another commit since then
            # would put them elsewhere: abort, as a row lock taken by the append would.
            txn.result = "fail"
            return
        if isolation == "snapshot-isolation":
            started = -1 if txn.started is None else txn.started
            if any(store.last_commit(key) > started for key in txn.writes):
                txn.result = "fail"  # first committer wins
                return
        for key, buffered in txn.writes.items():
            new = buffered
            if workload == "list-append":
                at = txn.started if isolation == "snapshot-isolation" else None
                new = (*store.read(key, at), *buffered)
            store.install(key, new, tick)
        txn.result = "ok"

    def run_atomically(txn: _Txn) -> None:
        read_only = all(op[0] == "r" for op in txn.plan)
        if isolation == "serializable" and read_only:
            txn.started = max(tick - rng.randint(0, lag), 0)
        for op in txn.plan:
            execute(txn, op)
        commit(txn)

    def advance(txn: _Txn) -> bool:
        """One step of ``txn``'s execution; True once it has committed or aborted."""
        if isolation in ("strict-serializable", "serializable"):
            run_atomically(txn)
            return True
        if isolation == "snapshot-isolation":
            if txn.started is None:
                txn.started = tick
                for op in txn.plan:
                    execute(txn, op)
                return False
            commit(txn)
            return True
        # read committed: one micro-op per step, then commit
        if len(txn.done) < len(txn.plan):
            execute(txn, txn.plan[len(txn.done)])
            return False
        commit(txn)
        return True

    while issued < txns or pending:
        tick += 1
        if orphans and rng.random() < 0.2:
            orphan = orphans.pop(rng.randrange(len(orphans)))
            if rng.random() < 0.5:
                while not advance(orphan):
                    tick += 1  # one action per tick: snapshots and commits never tie
            tick += 1
        process = rng.randrange(processes)
        txn = pending.get(process)
        if txn is None:
            if issued < txns:
                issued += 1
                txn = _Txn(process, plan(), "info" if rng.random() < info_rate else "ok")
                pending[process] = txn
                rec.invoke(process, "txn", txn.plan, time=float(tick))
            continue
        if rng.random() < 0.4:
            continue
        if txn.result is None:
            if txn.fate == "info" and rng.random() < 0.3:
                del pending[process]  # the client gives up; the transaction runs on, or not
                rec.info(process, "txn", txn.plan, time=float(tick))
                orphans.append(txn)
            elif not txn.done and not txn.started and rng.random() < abort_rate:
                txn.result = "fail"
            else:
                advance(txn)
            continue
        del pending[process]
        if txn.fate == "info":
            rec.info(process, "txn", txn.plan, time=float(tick))
        elif txn.result == "ok":
            rec.ok(process, "txn", txn.done, time=float(tick))
        else:
            rec.fail(process, "txn", txn.plan, time=float(tick))
    return rec.events
