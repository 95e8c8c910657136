"""Which anomalies each isolation level lets through, as the isolation checker observes them
(codex 4.3, 5.1).

:func:`measure` records seeded histories of one workload at one level from the engine and asks
the checker (:func:`archlab.check.isolation.check_isolation`) two questions per history: which
anomalies are in it (checked against serializability, so every cycle is reported), and whether
it satisfies the consistency model the level promises (read committed, snapshot isolation,
serializable). The application's own view is measured beside it: lost updates, audits that saw
half a transfer, overdrawn accounts and shifts left without a doctor.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from archlab.check.anomalies import Consistency
from archlab.check.isolation import check_isolation
from archlab.storage.mvcc.engine import Engine
from archlab.storage.mvcc.histories import RecordedRun, record
from archlab.storage.mvcc.transaction import Isolation
from archlab.storage.mvcc.workloads import (
    Workload,
    bank,
    bank_violations,
    doctors,
    doctors_violations,
    list_append,
    lost_updates,
    rw_register,
)

#: The consistency model each level promises (PostgreSQL's repeatable read is snapshot
#: isolation).
PROMISE: dict[Isolation, Consistency] = {
    Isolation.READ_COMMITTED: "read-committed",
    Isolation.REPEATABLE_READ: "snapshot-isolation",
    Isolation.SERIALIZABLE: "serializable",
}

WorkloadBuilder = Callable[..., Workload]
WORKLOADS: dict[str, WorkloadBuilder] = {
    "list-append": list_append,
    "rw-register": rw_register,
    "bank": bank,
    "doctors": doctors,
}


@dataclass
class Cell:
    """One level on one workload, over several seeds."""

    level: Isolation
    workload: str
    histories: int = 0
    committed: int = 0
    attempted: int = 0
    #: in how many histories each anomaly kind was found
    anomalies: Counter[str] = field(default_factory=Counter)
    #: the kinds found in each history, in seed order
    per_history: list[frozenset[str]] = field(default_factory=list)
    valid_promised: int = 0
    valid_serializable: int = 0
    valid_strict: int = 0
    unknown: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    lost_updates: int = 0
    bad_audits: int = 0
    overdrawn: int = 0
    uncovered_shifts: int = 0
    bad_seeds: list[int] = field(default_factory=list)

    @property
    def kinds(self) -> set[str]:
        return set(self.anomalies)

    def histories_with(self, kinds: set[str] | frozenset[str]) -> int:
        """Histories in which at least one of ``kinds`` was found."""
        return sum(1 for found in self.per_history if found & kinds)


def measure(
    level: Isolation,
    workload: str,
    seeds: range,
    *,
    clients: int,
    txns_per_client: int,
    vacuum_every: int | None = 5,
    engine_factory: Callable[[], Engine] = Engine,
) -> Cell:
    """Record and check one history per seed."""
    cell = Cell(level, workload)
    for seed in seeds:
        spec = WORKLOADS[workload](
            random.Random(seed), level, clients=clients, txns_per_client=txns_per_client
        )
        run = record(spec, seed, engine_factory=engine_factory, vacuum_every=vacuum_every)
        _judge(cell, run, seed)
    return cell


def _judge(cell: Cell, run: RecordedRun, seed: int) -> None:
    spec = run.workload
    found = check_isolation(run.events, workload=spec.kind, consistency="serializable")
    promised = check_isolation(run.events, workload=spec.kind, consistency=PROMISE[cell.level])
    strict = check_isolation(run.events, workload=spec.kind, consistency="strict-serializable")
    cell.histories += 1
    cell.committed += run.stats.committed
    cell.attempted += run.stats.attempted
    cell.failures.update(run.stats.failed)
    kinds = frozenset(found.anomaly_kinds | strict.anomaly_kinds)
    cell.anomalies.update(kinds)
    cell.per_history.append(kinds)
    cell.valid_serializable += found.valid is True
    cell.valid_strict += strict.valid is True
    cell.unknown += found.valid == "unknown"
    if promised.valid is True:
        cell.valid_promised += 1
    else:
        cell.bad_seeds.append(seed)
    if cell.workload == "rw-register":
        cell.lost_updates += lost_updates(run.events)
    elif cell.workload == "bank":
        check = bank_violations(
            run.events, run.final, spec.params["accounts"], spec.params["initial"]
        )
        cell.bad_audits += check.bad_audits
        cell.overdrawn += check.overdrawn
    elif cell.workload == "doctors":
        cell.uncovered_shifts += doctors_violations(
            run.final, spec.params["shifts"], spec.params["per_shift"]
        )
