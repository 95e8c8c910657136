"""A two-phase-commit coordinator with a durable decision log and presumed abort (codex 6.1).

For each client transaction the coordinator splits the micro-operations by participant
(``placement``), sends each its :class:`Prepare` and collects the votes:

- any no vote, or no vote at all within ``vote_timeout``: **abort**. Under *presumed abort*
  nothing is logged: :class:`Abort` goes to every participant, the client is told, the
  transaction is forgotten. Whoever asks later about a transaction the log does not know is
  told to abort.
- every vote yes: **commit**. The coordinator picks the commit timestamp (at least every
  prepare timestamp, :mod:`archlab.txn.timestamps`), appends a *commit* record (timestamp and
  participants) to its decision log and **syncs it before anything leaves**; only then do the
  :class:`Commit` messages go out and the client hear of it. With TrueTime and commit wait, the
  release waits further, until ``TT.after(commit timestamp)``. Commits are retransmitted
  until every participant acknowledges; then an *end* record is appended.

A participant in doubt asks with :class:`QueryDecision`: a logged commit is repeated, a
transaction still collecting votes is aborted on the spot (the coordinator has not decided,
so it may), anything else is presumed aborted. After a crash, :meth:`Coordinator.recover`
re-reads the log and releases again (after the commit wait, if any) every commit not known
to be acknowledged; undecided
transactions are gone, and their participants will be told to abort when they ask.

Read-only transactions in the Spanner-style store take no locks: :meth:`begin_snapshot` reads
every key at ``TT.now().latest`` (:class:`SnapshotRead`) and answers once all shards replied.

``no_decision_fsync`` is the deliberately broken coordinator of the tests: it sends its
decision without making it durable first, so a crash can forget a commit some participant
already applied.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from archlab.sim.disk import Disk
from archlab.sim.process import (
    Address,
    CancelTimer,
    Effect,
    Note,
    Reply,
    Request,
    Send,
    SetTimer,
    Sync,
)
from archlab.sim.records import RecordLog, decode, encode
from archlab.txn.timestamps import Timestamps
from archlab.txn.twopc.messages import (
    READ,
    Abort,
    Aborted,
    Ack,
    Commit,
    Committed,
    Micro,
    Prepare,
    QueryDecision,
    SnapshotRead,
    SnapshotReply,
    TxnId,
    Unavailable,
    Vote,
)

LOG_FILE = "coordinator.log"
Placement = Callable[[Hashable], Address]
Phase = Literal["voting", "waiting", "committing"]


@dataclass(frozen=True)
class CoordinatorConfig:
    vote_timeout: float = 0.3
    retransmit: float = 0.05
    #: Broken on purpose: send decisions before they are durable.
    no_decision_fsync: bool = False


def make_txn_id(node: int, incarnation: int, seq: int) -> TxnId:
    """A transaction id unique across coordinators and their restarts."""
    return (node << 44) | (incarnation << 24) | seq


@dataclass
class _Txn:
    id: TxnId
    request: Request | None
    micro: tuple[Micro, ...]
    shares: dict[Address, list[int]]
    phase: Phase = "voting"
    votes: dict[Address, Vote] = field(default_factory=dict)
    timestamp: float = 0.0
    acked: set[Address] = field(default_factory=set)
    started: float = 0.0

    @property
    def participants(self) -> tuple[Address, ...]:
        return tuple(sorted(self.shares))


@dataclass
class _Snapshot:
    request: Request
    timestamp: float
    shares: dict[Address, list[int]]
    replies: dict[Address, dict[Hashable, Any]] = field(default_factory=dict)


@dataclass
class CoordinatorStats:
    begun: int = 0
    committed: int = 0
    aborted: int = 0
    vote_timeouts: int = 0
    queries: int = 0
    presumed_aborts: int = 0
    #: Local seconds each commit waited for TT.after(timestamp) (commit wait).
    commit_waits: list[float] = field(default_factory=list)
    #: The clock uncertainty (TrueTime's epsilon) when each commit timestamp was chosen.
    commit_epsilons: list[float] = field(default_factory=list)
    snapshot_reads: int = 0


class Coordinator:
    """The coordinator of one node (see the module docstring)."""

    def __init__(
        self,
        address: Address,
        node_index: int,
        incarnation: int,
        disk: Disk,
        placement: Placement,
        timestamps: Timestamps,
        config: CoordinatorConfig | None = None,
    ) -> None:
        self.me = address
        self.node_index = node_index
        self.incarnation = incarnation
        self.placement = placement
        self.timestamps = timestamps
        self.config = config or CoordinatorConfig()
        self.log = RecordLog.open(disk, LOG_FILE)
        self.txns: dict[TxnId, _Txn] = {}
        #: Every commit decision in the log: txn -> (timestamp, participants).
        self.commits: dict[TxnId, tuple[float, tuple[Address, ...]]] = {}
        self.snapshots: dict[int, _Snapshot] = {}
        self.floor = 0.0
        self.seq = 0
        self.stats = CoordinatorStats()

    # -- recovery -----------------------------------------------------------------------

    def recover(self, now: float) -> list[Effect]:
        """Re-read the decision log; resend every commit not known to be acknowledged."""
        ended: set[TxnId] = set()
        for payload in self.log.records:
            record = decode(payload)
            txn = int(record["txn"])
            if record["t"] == "commit":
                participants = tuple(record["participants"])
                self.commits[txn] = (float(record["ts"]), participants)
                self.floor = max(self.floor, float(record["ts"]))
            elif record["t"] == "end":
                ended.add(txn)
        effects: list[Effect] = []
        unfinished = 0
        for txn, (timestamp, participants) in self.commits.items():
            if txn in ended:
                continue
            unfinished += 1
            shares: dict[Address, list[int]] = {p: [] for p in participants}
            # Released again through the commit wait: the decision may predate TT.after(s).
            self.txns[txn] = _Txn(txn, None, (), shares, "waiting", timestamp=timestamp)
            effects.append(SetTimer(("release", txn), 0.0))
        if unfinished:
            effects.append(Note(f"recovered {unfinished} commit(s) not yet acknowledged"))
        return effects

    # -- phase one ----------------------------------------------------------------------

    def begin(self, now: float, request: Request) -> list[Effect]:
        """Start a read-write transaction for ``request`` (its op's value is the micro-ops)."""
        micro: tuple[Micro, ...] = tuple(request.op.value)
        if not self.timestamps.ready(now):
            return [Reply(request, Unavailable("timestamps not ready"))]
        self.seq += 1
        txn_id = make_txn_id(self.node_index, self.incarnation, self.seq)
        shares = self._shares(micro)
        txn = _Txn(txn_id, request, micro, shares, started=now)
        self.txns[txn_id] = txn
        self.stats.begun += 1
        participants = txn.participants
        effects: list[Effect] = [
            Send(p, Prepare(txn_id, self.me, participants, tuple(micro[i] for i in idx)))
            for p, idx in shares.items()
        ]
        effects.append(SetTimer(("votes", txn_id), self.config.vote_timeout))
        return effects

    def _shares(self, micro: Iterable[Micro]) -> dict[Address, list[int]]:
        shares: dict[Address, list[int]] = {}
        for index, (_, key, _) in enumerate(micro):
            shares.setdefault(self.placement(key), []).append(index)
        return dict(sorted(shares.items()))

    def on_vote(self, now: float, src: Address, m: Vote) -> list[Effect]:
        txn = self.txns.get(m.txn)
        if txn is None or txn.phase != "voting" or src not in txn.shares:
            return []
        if not m.yes:
            return self._abort(txn, f"{src} voted no: {m.reason}")
        txn.votes[src] = m
        if len(txn.votes) < len(txn.shares):
            return []
        return self._decide_commit(now, txn)

    def _abort(self, txn: _Txn, reason: str) -> list[Effect]:
        """Presumed abort: nothing to log; tell everyone, answer the client, forget."""
        del self.txns[txn.id]
        self.stats.aborted += 1
        effects: list[Effect] = [Send(p, Abort(txn.id)) for p in txn.participants]
        if txn.request is not None:
            effects.append(Reply(txn.request, Aborted(reason)))
        return effects

    # -- phase two ----------------------------------------------------------------------

    def _decide_commit(self, now: float, txn: _Txn) -> list[Effect]:
        prepared = [v.timestamp for v in txn.votes.values()]
        timestamp = self.timestamps.commit(now, prepared, self.floor)
        self.stats.commit_epsilons.append(self.timestamps.uncertainty(now))
        self.floor = timestamp
        txn.timestamp = timestamp
        self.commits[txn.id] = (timestamp, txn.participants)
        record = {"t": "commit", "txn": txn.id, "ts": timestamp, "participants": list(txn.shares)}
        self.log.append(encode(record))
        if self.config.no_decision_fsync:
            txn.phase = "committing"
            return self._release(now, txn)  # the broken order: no sync before sending
        effects: list[Effect] = [Sync()]  # the decision is durable before anyone hears it
        wait = self.timestamps.release_wait(now, timestamp)
        if wait > 0:
            txn.phase = "waiting"
            self.stats.commit_waits.append(wait)
            return [*effects, SetTimer(("release", txn.id), wait)]
        self.stats.commit_waits.append(0.0)
        txn.phase = "committing"
        return effects + self._release(now, txn)

    def _release(self, now: float, txn: _Txn) -> list[Effect]:
        """Tell the participants and the client: the commit is now visible."""
        if txn.request is not None:
            self.stats.committed += 1
        effects: list[Effect] = [Send(p, Commit(txn.id, txn.timestamp)) for p in txn.participants]
        if txn.request is not None:
            effects.append(Reply(txn.request, Committed(self._result(txn), txn.timestamp)))
            txn.request = None
        effects.append(SetTimer(("resend", txn.id), self.config.retransmit))
        return effects

    def _result(self, txn: _Txn) -> tuple[Micro, ...]:
        filled = list(txn.micro)
        for participant, vote in txn.votes.items():
            indexes = txn.shares[participant]
            for position, value in vote.reads:
                f, key, _ = filled[indexes[position]]
                filled[indexes[position]] = (f, key, value)
        return tuple(filled)

    def on_ack(self, now: float, src: Address, m: Ack) -> list[Effect]:
        txn = self.txns.get(m.txn)
        if txn is None or txn.phase != "committing":
            return []
        txn.acked.add(src)
        if txn.acked >= set(txn.shares):
            del self.txns[m.txn]
            self.log.append(encode({"t": "end", "txn": m.txn}))
        return []

    # -- termination protocol -----------------------------------------------------------

    def on_query(self, now: float, src: Address, m: QueryDecision) -> list[Effect]:
        self.stats.queries += 1
        txn = self.txns.get(m.txn)
        if txn is not None:
            if txn.phase == "voting":  # undecided: the coordinator may still abort
                return self._abort(txn, f"{src} asked before the votes were in")
            if txn.phase == "waiting":  # committed, but not visible before TT.after(s)
                return []
            return [Send(src, Commit(m.txn, txn.timestamp))]
        known = self.commits.get(m.txn)
        if known is not None:
            return [Send(src, Commit(m.txn, known[0]))]
        self.stats.presumed_aborts += 1
        return [Send(src, Abort(m.txn))]

    # -- timers -------------------------------------------------------------------------

    def on_timer(self, now: float, key: tuple[str, int]) -> list[Effect]:  # noqa: PLR0911 - one return per timer kind of the coordinator
        kind, ident = key
        if kind == "snapshot":
            snapshot = self.snapshots.pop(ident, None)
            if snapshot is None:
                return []
            return [Reply(snapshot.request, Aborted("snapshot read timed out"))]
        txn = self.txns.get(ident)
        if txn is None:
            return []
        if kind == "votes" and txn.phase == "voting":
            self.stats.vote_timeouts += 1
            missing = sorted(set(txn.shares) - set(txn.votes))
            return self._abort(txn, f"no vote from {', '.join(missing)}")
        if kind == "release" and txn.phase == "waiting":
            if not self.timestamps.ready(now):
                return [SetTimer(("release", txn.id), self.config.retransmit)]
            wait = self.timestamps.release_wait(now, txn.timestamp)
            if wait > 0:  # a clock sync in between can change the answer: ask again
                return [SetTimer(("release", txn.id), wait)]
            txn.phase = "committing"
            return self._release(now, txn)
        if kind == "resend" and txn.phase == "committing":
            effects: list[Effect] = [
                Send(p, Commit(txn.id, txn.timestamp))
                for p in txn.participants
                if p not in txn.acked
            ]
            return [*effects, SetTimer(("resend", txn.id), self.config.retransmit)]
        return []

    # -- read-only transactions at a timestamp -------------------------------------------

    def begin_snapshot(self, now: float, request: Request, timeout: float) -> list[Effect]:
        """A lock-free read-only transaction at ``TT.now().latest`` (Spanner §4.1.4)."""
        micro: tuple[Micro, ...] = tuple(request.op.value)
        if not self.timestamps.ready(now):
            return [Reply(request, Unavailable("timestamps not ready"))]
        self.seq += 1
        timestamp = self.timestamps.read(now)
        shares = self._shares(micro)
        self.snapshots[self.seq] = _Snapshot(request, timestamp, shares)
        self.stats.snapshot_reads += 1
        effects: list[Effect] = []
        for participant, indexes in shares.items():
            keys = tuple(dict.fromkeys(micro[i][1] for i in indexes))
            effects.append(Send(participant, SnapshotRead(self.seq, timestamp, keys)))
        effects.append(SetTimer(("snapshot", self.seq), timeout))
        return effects

    def on_snapshot_reply(self, now: float, src: Address, m: SnapshotReply) -> list[Effect]:
        snapshot = self.snapshots.get(m.read)
        if snapshot is None or src not in snapshot.shares:
            return []
        snapshot.replies[src] = dict(m.values)
        if len(snapshot.replies) < len(snapshot.shares):
            return []
        del self.snapshots[m.read]
        micro = tuple(snapshot.request.op.value)
        filled: list[Micro] = []
        for index, (f, key, _) in enumerate(micro):
            if f != READ:
                raise ValueError(f"micro-operation {index} of a read-only transaction is {f!r}")
            owner = self.placement(key)
            filled.append((f, key, snapshot.replies[owner].get(key)))
        return [
            Reply(snapshot.request, Committed(tuple(filled), snapshot.timestamp)),
            CancelTimer(("snapshot", m.read)),
        ]
