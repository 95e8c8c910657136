"""The anomaly schedules both engines run, step by step (codex 4.3).

A :class:`Schedule` is a fixed interleaving of two or three transactions' statements over a
small key-value table, the shortest one that exhibits one anomaly when the isolation level lets
it through: dirty read, non-repeatable read, lost update, write skew, the read-only anomaly
(Fekete, O'Neil and O'Neil 2004) and a phantom, plus a control with disjoint writes that no
level should abort. The same schedule runs on archlab's engine and on PostgreSQL
(:mod:`archlab.storage.mvcc.postgres.play`); its :attr:`Schedule.anomaly` predicate reads the
:class:`Outcome` (what each read returned, who committed, who failed with which SQLSTATE, the
final table) and says whether the anomaly happened. Nothing here knows about either engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

Row = tuple[str, int]
ReadValue = int | None | tuple[Row, ...]


@dataclass(frozen=True)
class Read:
    """``SELECT v FROM kv WHERE k = key``; the result is stored under ``label``."""

    key: str
    label: str
    for_update: bool = False


@dataclass(frozen=True)
class Derived:
    """A value computed from an earlier read of the same transaction: ``reads[label] + delta``."""

    label: str
    delta: int


@dataclass(frozen=True)
class Write:
    """``INSERT ... ON CONFLICT (k) DO UPDATE``: insert or update ``key``."""

    key: str
    value: int | Derived


@dataclass(frozen=True)
class Scan:
    """``SELECT k, v FROM kv WHERE lo <= k < hi ORDER BY k``."""

    lo: str
    hi: str
    label: str


@dataclass(frozen=True)
class Commit:
    pass


@dataclass(frozen=True)
class Abort:
    pass


Op = Read | Write | Scan | Commit | Abort


@dataclass(frozen=True)
class Step:
    txn: str
    op: Op


@dataclass(frozen=True)
class Outcome:
    """What one engine did with one schedule at one level."""

    reads: dict[str, ReadValue]
    committed: frozenset[str]
    failed: dict[str, str]  # transaction -> SQLSTATE of the error that rolled it back
    final: dict[str, int]
    stuck: frozenset[str] = field(default_factory=frozenset)  # still waiting at the end

    def value(self, label: str) -> ReadValue:
        return self.reads.get(label)


@dataclass(frozen=True)
class Schedule:
    name: str
    anomaly_name: str
    setup: dict[str, int]
    steps: tuple[Step, ...]
    anomaly: Callable[[Outcome], bool]
    explanation: str

    @property
    def transactions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(step.txn for step in self.steps))


def _steps(*pairs: tuple[str, Op]) -> tuple[Step, ...]:
    return tuple(Step(txn, op) for txn, op in pairs)


DIRTY_READ = Schedule(
    "dirty-read",
    "dirty read (G1a)",
    {"x": 0},
    _steps(
        ("T1", Write("x", 1)),
        ("T2", Read("x", "r")),
        ("T2", Commit()),
        ("T1", Abort()),
    ),
    lambda o: o.value("r") == 1,
    "T2 reads x while T1's uncommitted write of 1 is in place; T1 then rolls back.",
)

NON_REPEATABLE_READ = Schedule(
    "non-repeatable-read",
    "non-repeatable read",
    {"x": 0},
    _steps(
        ("T1", Read("x", "first")),
        ("T2", Write("x", 1)),
        ("T2", Commit()),
        ("T1", Read("x", "second")),
        ("T1", Commit()),
    ),
    lambda o: "T1" in o.committed and o.value("first") != o.value("second"),
    "T1 reads x twice; between the reads T2 commits a new value.",
)

LOST_UPDATE = Schedule(
    "lost-update",
    "lost update (P4)",
    {"x": 0},
    _steps(
        ("T1", Read("x", "a")),
        ("T2", Read("x", "b")),
        ("T1", Write("x", Derived("a", 1))),
        ("T2", Write("x", Derived("b", 1))),  # waits for T1's row lock
        ("T1", Commit()),
        ("T2", Commit()),
    ),
    lambda o: {"T1", "T2"} <= o.committed and o.final.get("x") == 1,
    "Both read x = 0 and write x + 1; if both commit, x ends at 1 and one increment is lost.",
)

WRITE_SKEW = Schedule(
    "write-skew",
    "write skew (G2-item)",
    {"x": 1, "y": 1},
    _steps(
        ("T1", Read("x", "t1x")),
        ("T1", Read("y", "t1y")),
        ("T2", Read("x", "t2x")),
        ("T2", Read("y", "t2y")),
        ("T1", Write("x", 0)),
        ("T2", Write("y", 0)),
        ("T1", Commit()),
        ("T2", Commit()),
    ),
    lambda o: {"T1", "T2"} <= o.committed,
    "Two doctors on call (x = y = 1) each see the other on call and go off call; the "
    "constraint x + y >= 1 holds in each snapshot and fails when both commit.",
)

READ_ONLY_ANOMALY = Schedule(
    "read-only-anomaly",
    "read-only anomaly (Fekete et al. 2004)",
    {"checking": 0, "savings": 0},
    _steps(
        ("T2", Read("checking", "t2c")),
        ("T2", Read("savings", "t2s")),
        ("T3", Read("savings", "t3s")),
        ("T3", Write("savings", 20)),
        ("T3", Commit()),
        ("T1", Read("checking", "t1c")),
        ("T1", Read("savings", "t1s")),
        ("T1", Commit()),
        ("T2", Write("checking", -11)),
        ("T2", Commit()),
    ),
    lambda o: {"T1", "T2", "T3"} <= o.committed,
    "T2 withdraws 10 with a penalty of 1 because it saw both balances at 0; T3 deposits 20 "
    "and commits first; the read-only report T1 sees the deposit but not the withdrawal, "
    "which no serial order allows once T2 commits.",
)

PHANTOM = Schedule(
    "phantom",
    "phantom (predicate read changes)",
    {"k1": 1, "k2": 1},
    _steps(
        ("T1", Scan("k", "l", "first")),
        ("T2", Write("k3", 1)),
        ("T2", Commit()),
        ("T1", Scan("k", "l", "second")),
        ("T1", Commit()),
    ),
    lambda o: "T1" in o.committed and o.value("first") != o.value("second"),
    "T1 scans a key range twice; between the scans T2 inserts a row into it and commits.",
)

PREDICATE_WRITE_SKEW = Schedule(
    "predicate-write-skew",
    "write skew through a predicate (G2)",
    {"shift-a": 1},
    _steps(
        ("T1", Scan("shift-", "shift.", "t1")),
        ("T2", Scan("shift-", "shift.", "t2")),
        ("T1", Write("shift-b", 1)),
        ("T2", Write("shift-c", 1)),
        ("T1", Commit()),
        ("T2", Commit()),
    ),
    lambda o: {"T1", "T2"} <= o.committed,
    "A rota allows two doctors per shift; each transaction counts one and inserts a new row, "
    "so both commit and the shift ends with three. No row is written twice: only a "
    "predicate (range) lock can see the conflict.",
)

LOCKING_READ = Schedule(
    "locking-read",
    "lost update, prevented by SELECT ... FOR UPDATE",
    {"x": 0},
    _steps(
        ("T1", Read("x", "a", for_update=True)),
        ("T2", Read("x", "b", for_update=True)),  # waits for T1's row lock
        ("T1", Write("x", Derived("a", 1))),
        ("T1", Commit()),
        ("T2", Write("x", Derived("b", 1))),
        ("T2", Commit()),
    ),
    lambda o: {"T1", "T2"} <= o.committed and o.final.get("x") == 1,
    "The increment of the lost-update schedule, with the read locking the row: the second "
    "reader waits, then reads the new value (read committed) or fails (snapshot levels).",
)

DISJOINT_WRITES = Schedule(
    "disjoint-writes",
    "none (control: no conflict, no level may abort)",
    {"x": 0, "y": 0},
    _steps(
        ("T1", Read("x", "a")),
        ("T2", Read("y", "b")),
        ("T1", Write("x", Derived("a", 1))),
        ("T2", Write("y", Derived("b", 1))),
        ("T1", Commit()),
        ("T2", Commit()),
    ),
    lambda o: bool(o.failed),
    "Each transaction reads and updates its own row; a failure here is a false positive.",
)

SCHEDULES: tuple[Schedule, ...] = (
    DIRTY_READ,
    NON_REPEATABLE_READ,
    LOST_UPDATE,
    WRITE_SKEW,
    READ_ONLY_ANOMALY,
    PHANTOM,
    PREDICATE_WRITE_SKEW,
    LOCKING_READ,
    DISJOINT_WRITES,
)
