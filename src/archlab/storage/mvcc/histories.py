"""Record a workload's history from the engine, seed by seed (codex 4.3, 5.1).

:func:`record` builds an engine (or takes one), runs the workload's setup alone, then
interleaves its clients with a :class:`Scheduler` seeded by ``seed``; optionally autovacuum
runs every few ticks, so that histories also exercise vacuum removing versions while snapshots
are open. The result carries the events (for the isolation checker), the scheduler's counts and
the final committed state.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archlab.check.history import Event, Recorder
from archlab.storage.mvcc.engine import Engine
from archlab.storage.mvcc.scheduler import RunStats, Scheduler
from archlab.storage.mvcc.workloads import Workload


@dataclass
class RecordedRun:
    workload: Workload
    seed: int
    events: list[Event]
    stats: RunStats
    engine: Engine
    final: dict[str, Any]


def record(
    workload: Workload,
    seed: int,
    *,
    engine: Engine | None = None,
    engine_factory: Callable[[], Engine] = Engine,
    vacuum_every: int | None = None,
) -> RecordedRun:
    """Run ``workload`` under the seeded scheduler and return its history."""
    db = engine if engine is not None else engine_factory()
    recorder = Recorder()
    if workload.setup is not None:
        setup_recorder = recorder if workload.record_setup else Recorder()
        setup = Scheduler(db, random.Random(seed), setup_recorder)
        if not setup.run_one(workload.setup, process="setup"):
            raise RuntimeError(f"{workload.name}: the setup transaction did not commit")

    def maintenance(tick: int) -> None:
        if vacuum_every and tick % vacuum_every == 0:
            db.autovacuum()

    scheduler = Scheduler(db, random.Random(seed), recorder, on_tick=maintenance)
    stats = scheduler.run(workload.clients)
    reader = db.begin()
    final = dict(reader.scan())
    reader.commit()
    return RecordedRun(workload, seed, recorder.events, stats, db, final)
