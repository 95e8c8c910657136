"""A two-phase-commit participant: locks, a durable prepare, and no deciding alone (codex 6.1).

The participant is a resource manager (a shard of the data). For each :class:`Prepare` it:

1. locks every key of its share (:class:`~archlab.txn.twopc.locks.LockTable`), waiting at most
   ``lock_timeout`` (then it votes no: before voting yes it may still abort on its own);
2. executes the share against the newest versions (refusing, and voting no, on a bank rule);
3. picks a prepare timestamp above every timestamp it has used, appends a *prepare* record
   (keys, writes, reads, the coordinator and every participant) to its log and **syncs it
   before voting yes**. From then on it is *prepared*: it holds the locks and must do what the
   coordinator decides, whatever happens, even across a crash.

A :class:`Commit` installs the writes as versions at the commit timestamp, logs a *commit*
record (synced before the :class:`Ack`) and releases the locks; an :class:`Abort` logs an
*abort* record (presumed abort: it need not be synced) and releases them. A participant still
prepared after ``query_interval`` asks the coordinator (:class:`QueryDecision`) and keeps
asking, holding its locks, until it is told: the blocking of two-phase commit.

Snapshot reads (:class:`SnapshotRead`, the Spanner-style store) are served from the versions
at their timestamp without locks, once no prepared transaction that could commit at or below
that timestamp touches the keys; the timestamp then joins the floor, so no later prepare can
slip below a read already served. The floor survives crashes through a *reservation* kept in a
state file (synced before the read is answered, and only when the read passes it).

Recovery (:meth:`Participant.recover`) replays the log: committed versions are reinstalled,
transactions prepared without an outcome take their locks again and ask the coordinator.

``unilateral_abort`` is the deliberately broken participant of the tests: when the decision is
late it aborts on its own after voting yes.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from archlab.sim.disk import Disk
from archlab.sim.process import Address, CancelTimer, Effect, Note, Send, SetTimer, Sync
from archlab.sim.records import RecordLog, decode, encode, read_state, write_state
from archlab.txn.timestamps import Timestamps
from archlab.txn.twopc.data import Execution, Refused, Versions, execute, freeze
from archlab.txn.twopc.locks import LockTable
from archlab.txn.twopc.messages import (
    Abort,
    Ack,
    Commit,
    Prepare,
    QueryDecision,
    SnapshotRead,
    SnapshotReply,
    TxnId,
    Vote,
)

LOG_FILE = "participant.log"
FLOOR_FILE = "participant.floor"
Outcome = Literal["commit", "abort"]


@dataclass(frozen=True)
class ParticipantConfig:
    lock_timeout: float = 0.1
    query_interval: float = 0.1
    #: How far past a snapshot read's timestamp the persisted floor is reserved.
    floor_reservation: float = 0.5
    #: Broken on purpose: abort alone, after voting yes, when the decision is late.
    unilateral_abort: bool = False


@dataclass
class Prepared:
    txn: TxnId
    coordinator: Address
    participants: tuple[Address, ...]
    timestamp: float
    keys: tuple[Hashable, ...]
    writes: tuple[tuple[Hashable, Any], ...]
    reads: tuple[tuple[int, Any], ...]
    queries: int = 0


@dataclass
class _Waiting:
    src: Address
    prepare: Prepare


@dataclass
class _Read:
    src: Address
    request: SnapshotRead


@dataclass
class ParticipantStats:
    prepared: int = 0
    committed: int = 0
    aborted: int = 0
    refused: int = 0
    lock_timeouts: int = 0
    queries: int = 0
    outcomes: dict[TxnId, Outcome] = field(default_factory=dict)


class Participant:
    """One participant (see the module docstring); its methods return the effects to run."""

    def __init__(
        self,
        address: Address,
        disk: Disk,
        timestamps: Timestamps,
        config: ParticipantConfig | None = None,
    ) -> None:
        self.me = address
        self.disk = disk
        self.timestamps = timestamps
        self.config = config or ParticipantConfig()
        self.versions = Versions()
        self.locks = LockTable()
        self.prepared: dict[TxnId, Prepared] = {}
        self.decided: dict[TxnId, Outcome] = {}
        self.waiting: dict[TxnId, _Waiting] = {}
        self.reads: list[_Read] = []
        self.floor = 0.0
        self.reserved = 0.0
        self.stats = ParticipantStats()
        self.log = RecordLog.open(disk, LOG_FILE)

    # -- recovery -----------------------------------------------------------------------

    def recover(self, now: float) -> list[Effect]:
        """Rebuild from the log (see the module docstring); ask about in-doubt transactions."""
        for payload in self.log.records:
            record = decode(payload)
            txn = int(record["txn"])
            kind = record["t"]
            if kind == "prepare":
                self.prepared[txn] = Prepared(
                    txn,
                    record["coordinator"],
                    tuple(record["participants"]),
                    float(record["ts"]),
                    tuple(freeze(k) for k in record["keys"]),
                    tuple((freeze(k), freeze(v)) for k, v in record["writes"]),
                    tuple((int(i), freeze(v)) for i, v in record["reads"]),
                )
                self.floor = max(self.floor, float(record["ts"]))
            elif kind == "commit":
                entry = self.prepared.pop(txn, None)
                timestamp = float(record["ts"])
                if entry is not None:
                    for key, value in entry.writes:
                        self.versions.install(key, timestamp, value)
                self.decided[txn] = "commit"
                self.floor = max(self.floor, timestamp)
            elif kind == "abort":
                self.prepared.pop(txn, None)
                self.decided[txn] = "abort"
        reserved = read_state(self.disk, FLOOR_FILE)
        if reserved is not None:
            self.reserved = float(reserved)
            self.floor = max(self.floor, self.reserved)
        effects: list[Effect] = []
        for entry in self.prepared.values():
            self.locks.acquire(entry.txn, entry.keys)
            effects.append(SetTimer(("query", entry.txn), self.config.query_interval))
        if self.prepared:
            effects.append(Note(f"recovered {len(self.prepared)} in-doubt transaction(s)"))
        return effects

    # -- phase one ----------------------------------------------------------------------

    def on_prepare(self, now: float, src: Address, m: Prepare) -> list[Effect]:  # noqa: PLR0911 - 2PC's prepare rules: one return per refusal reason, then the yes vote
        txn = m.txn
        entry = self.prepared.get(txn)
        if entry is not None:  # a retransmitted prepare: the same vote again
            return [Send(src, Vote(txn, True, entry.timestamp, entry.reads))]
        outcome = self.decided.get(txn)
        if outcome == "abort":
            return [Send(src, Vote(txn, False, reason="already aborted"))]
        if outcome == "commit":
            return []
        if txn in self.waiting:
            return []
        if not self.timestamps.ready(now):
            return self._refuse(src, txn, "no timestamps yet")
        keys = _keys(m)
        if self.locks.request(txn, keys):
            return self._prepare(now, src, m, keys)
        self.waiting[txn] = _Waiting(src, m)
        return [SetTimer(("lock", txn), self.config.lock_timeout)]

    def _prepare(
        self, now: float, src: Address, m: Prepare, keys: tuple[Hashable, ...]
    ) -> list[Effect]:
        """Execute ``m`` under its (granted) locks, make the result durable, vote yes."""
        try:
            done: Execution = execute(self.versions, m.micro)
        except Refused as refusal:
            effects = self._release(now, m.txn, "abort", was_prepared=False, log=False)
            return self._refuse(src, m.txn, str(refusal)) + effects
        timestamp = self.timestamps.prepare(now, self.floor)
        self.floor = timestamp
        entry = Prepared(
            m.txn, m.coordinator, m.participants, timestamp, keys, done.writes, done.reads
        )
        self.prepared[m.txn] = entry
        self.log.append(
            encode(
                {
                    "t": "prepare",
                    "txn": m.txn,
                    "coordinator": m.coordinator,
                    "participants": list(m.participants),
                    "ts": timestamp,
                    "keys": list(keys),
                    "writes": [[k, v] for k, v in done.writes],
                    "reads": [[i, v] for i, v in done.reads],
                }
            )
        )
        self.stats.prepared += 1
        return [
            Sync(),  # durable before the yes vote leaves
            Send(src, Vote(m.txn, True, timestamp, done.reads)),
            SetTimer(("query", m.txn), self.config.query_interval),
            Note(f"prepared {m.txn}"),
        ]

    def _refuse(self, src: Address, txn: TxnId, reason: str) -> list[Effect]:
        """Vote no (allowed until a yes vote has been sent): the transaction aborts."""
        self.decided[txn] = "abort"
        self.stats.refused += 1
        return [Send(src, Vote(txn, False, reason=reason))]

    # -- phase two ----------------------------------------------------------------------

    def on_commit(self, now: float, src: Address, m: Commit) -> list[Effect]:
        entry = self.prepared.get(m.txn)
        if entry is None:
            if self.decided.get(m.txn) != "commit":
                # Only a broken coordinator (or participant) can get here: note it.
                return [Note(f"commit of {m.txn}, which is not prepared here")]
            return [Send(src, Ack(m.txn))]
        for key, value in entry.writes:
            self.versions.install(key, m.timestamp, value)
        self.floor = max(self.floor, m.timestamp)
        self.log.append(encode({"t": "commit", "txn": m.txn, "ts": m.timestamp}))
        effects = self._release(now, m.txn, "commit", was_prepared=True, log=False)
        return [Sync(), Send(src, Ack(m.txn)), *effects]

    def on_abort(self, now: float, src: Address, m: Abort) -> list[Effect]:
        if m.txn in self.waiting:
            del self.waiting[m.txn]
            self.decided[m.txn] = "abort"
            granted = self.locks.withdraw(m.txn)
            return [CancelTimer(("lock", m.txn)), *self._run_granted(now, granted)]
        if m.txn not in self.prepared:
            self.decided.setdefault(m.txn, "abort")
            return []
        return self._release(now, m.txn, "abort", was_prepared=True, log=True)

    def _release(
        self, now: float, txn: TxnId, outcome: Outcome, *, was_prepared: bool, log: bool
    ) -> list[Effect]:
        """End ``txn`` here: record the outcome, free its locks, run what waited on them."""
        self.prepared.pop(txn, None)
        self.decided[txn] = outcome
        effects: list[Effect] = []
        if was_prepared:
            if log:
                self.log.append(encode({"t": "abort", "txn": txn}))
            self.stats.outcomes[txn] = outcome
            if outcome == "commit":
                self.stats.committed += 1
            else:
                self.stats.aborted += 1
            effects.append(Note(f"released {txn} {outcome}"))
        return effects + self._run_granted(now, self.locks.release(txn)) + self._serve_reads()

    def _run_granted(self, now: float, granted: list[TxnId]) -> list[Effect]:
        """Prepare the waiters that were just granted their locks."""
        effects: list[Effect] = []
        for txn in granted:
            waiter = self.waiting.pop(txn)
            effects.append(CancelTimer(("lock", txn)))
            effects += self._prepare(now, waiter.src, waiter.prepare, _keys(waiter.prepare))
        return effects

    # -- timers -------------------------------------------------------------------------

    def on_timer(self, now: float, key: tuple[str, TxnId]) -> list[Effect]:
        kind, txn = key
        if kind == "lock":
            waiter = self.waiting.pop(txn, None)
            if waiter is None:
                return []
            self.stats.lock_timeouts += 1
            refusal = self._refuse(waiter.src, txn, "lock wait timed out")
            return refusal + self._run_granted(now, self.locks.withdraw(txn))
        if kind == "query":
            entry = self.prepared.get(txn)
            if entry is None:
                return []
            if self.config.unilateral_abort:
                effects = self._release(now, txn, "abort", was_prepared=True, log=True)
                return [Note(f"gave up waiting for {txn}"), *effects]
            entry.queries += 1
            self.stats.queries += 1
            return [
                Send(entry.coordinator, QueryDecision(txn)),
                SetTimer(("query", txn), self.config.query_interval),
            ]
        return []

    # -- snapshot reads -----------------------------------------------------------------

    def on_snapshot_read(self, now: float, src: Address, m: SnapshotRead) -> list[Effect]:
        self.reads.append(_Read(src, m))
        return self._serve_reads()

    def _serve_reads(self) -> list[Effect]:
        effects: list[Effect] = []
        waiting: list[_Read] = []
        for read in self.reads:
            if self._blocked(read.request):
                waiting.append(read)
            else:
                effects += self._answer(read)
        self.reads = waiting
        return effects

    def _blocked(self, m: SnapshotRead) -> bool:
        keys = set(m.keys)
        return any(
            e.timestamp <= m.timestamp and keys.intersection(e.keys) for e in self.prepared.values()
        )

    def _answer(self, read: _Read) -> list[Effect]:
        m = read.request
        self.floor = max(self.floor, m.timestamp)
        effects: list[Effect] = []
        if m.timestamp > self.reserved:
            self.reserved = m.timestamp + self.config.floor_reservation
            write_state(self.disk, FLOOR_FILE, self.reserved)
            effects.append(Sync())
        values = tuple((k, self.versions.at(k, m.timestamp)) for k in m.keys)
        effects.append(Send(read.src, SnapshotReply(m.read, values)))
        return effects

    @property
    def in_doubt(self) -> list[TxnId]:
        return sorted(self.prepared)


def _keys(m: Prepare) -> tuple[Hashable, ...]:
    return tuple(sorted({k for _, k, _ in m.micro}, key=repr))


#: The transaction id of the initial load (see :func:`load`).
LOAD_TXN = 0


def load(disk: Disk, values: Mapping[Hashable, Any]) -> None:
    """Install initial data on a shard's disk: transaction 0, committed at timestamp 0.

    Written through the log like any other transaction (a prepare and a commit record), so
    recovery needs no special case. Call before the node first boots (a world's bootstrap).
    """
    log = RecordLog.open(disk, LOG_FILE)
    keys = sorted(values, key=repr)
    log.append(
        encode(
            {
                "t": "prepare",
                "txn": LOAD_TXN,
                "coordinator": "",
                "participants": [],
                "ts": 0.0,
                "keys": keys,
                "writes": [[k, values[k]] for k in keys],
                "reads": [],
            }
        )
    )
    log.append(encode({"t": "commit", "txn": LOAD_TXN, "ts": 0.0}))
