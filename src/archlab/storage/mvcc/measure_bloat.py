"""Bloat under an update-heavy workload, with and without an old snapshot (codex 4.3).

:func:`run_bloat` updates random rows of a table one transaction at a time, runs autovacuum
every ``naptime`` transactions, and every ``sample_every`` transactions records the dead
versions in the heap (versions a fresh snapshot cannot see), the heap's size, and the wall time
of a full sequential scan by a fresh read-committed transaction (median of a few repeats).
Optionally a repeatable-read transaction takes its snapshot at one transaction count and holds
it until another: while it lives, vacuum's horizon is stuck at its xmin.

Several scenarios run in lockstep, one engine each, on the same sequence of updates: each
transaction and each sample is taken in every engine before the next, alternating which goes
first, so that scan times compared across scenarios were measured under the same load.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from archlab.storage.mvcc.engine import Engine
from archlab.storage.mvcc.settings import MvccSettings
from archlab.storage.mvcc.transaction import Isolation, Transaction
from archlab.storage.mvcc.vacuum import VacuumReport


@dataclass(frozen=True)
class BloatSample:
    txns: int
    dead_versions: int
    pages: int
    scan_ms: float
    tuples_per_scan: int


@dataclass
class BloatRun:
    rows: int
    long_window: tuple[int, int] | None
    samples: list[BloatSample] = field(default_factory=list)
    vacuums: list[tuple[int, VacuumReport]] = field(default_factory=list)
    #: dead versions in the heap when the old snapshot was taken (vacuum may remove these)
    dead_at_hold: int = 0

    def removed_between(self, start: int, end: int) -> int:
        """Versions removed by the vacuums that ran after ``start`` transactions and no later
        than after ``end`` (``vacuums`` are stamped with the transactions done before them)."""
        return sum(r.tuples_removed for t, r in self.vacuums if start < t <= end)

    def vacuum_pages_between(self, start: int, end: int) -> int:
        return sum(r.pages_read for t, r in self.vacuums if start < t <= end)

    def window(self, start: int, end: int) -> list[BloatSample]:
        return [s for s in self.samples if start <= s.txns < end]


def _key(i: int) -> str:
    return f"row{i:07d}"


def run_bloat(
    *,
    rows: int,
    txns: int,
    naptime: int,
    sample_every: int,
    scan_repeats: int,
    scenarios: dict[str, tuple[int, int] | None],
    rng: random.Random,
    settings: MvccSettings | None = None,
    engine_factory: Callable[[MvccSettings], Engine] = Engine,
) -> dict[str, BloatRun]:
    """Run every scenario (name -> old-snapshot window, or None) in lockstep.

    ``engine_factory`` builds each scenario's engine (tests pass deliberately broken ones).
    """
    names = list(scenarios)
    engines = {name: engine_factory(settings or MvccSettings()) for name in names}
    runs = {name: BloatRun(rows, scenarios[name]) for name in names}
    held: dict[str, Transaction] = {}
    for engine in engines.values():
        setup = engine.begin()
        for i in range(rows):
            setup.put(_key(i), 0)
        setup.commit()
        engine.vacuum()
    for n in range(txns + 1):
        order = names if n % 2 == 0 else names[::-1]
        for name in order:
            engine, run, window = engines[name], runs[name], scenarios[name]
            if window is not None and n == window[0]:
                held[name] = engine.begin(Isolation.REPEATABLE_READ)
                held[name].get(_key(0))  # the first statement takes the snapshot
                run.dead_at_hold = engine.stats().tuples - rows
            if window is not None and n == window[1] and name in held:
                held.pop(name).commit()
            if n % sample_every == 0:
                run.samples.append(_sample(engine, n, rows, scan_repeats))
        if n == txns:
            break
        key, value = _key(rng.randrange(rows)), n
        for name in order:
            engine = engines[name]
            txn = engine.begin()
            txn.put(key, value)
            txn.commit()
            if (n + 1) % naptime == 0:
                runs[name].vacuums.extend((n + 1, r) for r in engine.autovacuum())
    for txn in held.values():
        txn.commit()
    return runs


def _sample(engine: Engine, n: int, rows: int, repeats: int) -> BloatSample:
    timings = []
    examined = 0
    for _ in range(repeats):
        reader = engine.begin()
        before = engine.tuples_examined
        start = time.perf_counter()
        found = reader.scan()
        timings.append(time.perf_counter() - start)
        examined = engine.tuples_examined - before
        reader.commit()
        if len(found) != rows:
            raise RuntimeError(f"a scan found {len(found)} rows, expected {rows}")
    stats = engine.stats()
    return BloatSample(
        txns=n,
        dead_versions=stats.tuples - rows,
        pages=stats.pages,
        scan_ms=statistics.median(timings) * 1000,
        tuples_per_scan=examined,
    )
