"""The MVCC engine: transactions over versioned tables, as PostgreSQL runs them (codex 4.3).

The API has no SQL::

    engine = Engine()
    txn = engine.begin(Isolation.REPEATABLE_READ)
    txn.put("alice", 100)
    txn.get("alice")            # 100: a transaction sees its own writes
    txn.commit()

Each call is one statement. What a statement sees depends on the isolation level:

* read committed: a fresh snapshot per statement, so each statement sees everything committed
  before it started;
* repeatable read: one snapshot, taken at the first statement, for the whole transaction
  (snapshot isolation). Writing a row that a concurrent transaction updated or deleted and
  committed fails with :class:`SerializationFailure`: the first updater wins;
* serializable: repeatable read plus SSI (:mod:`archlab.storage.mvcc.ssi`), which aborts a
  transaction of any dangerous structure of rw-antidependencies.

Writes take row locks: ``put``/``delete`` and ``get(..., for_update=True)`` stamp the newest
version's ``xmax`` with their XID (``lock_only`` for the locking read). A statement that meets a
row locked or written by a running transaction raises :class:`LockWait` and has done nothing;
call it again once that transaction finished. Before reporting a wait the engine follows the
chain of waits; if it leads back to the waiter, the waiter is rolled back with
:class:`DeadlockDetected` instead. Under read committed a statement that waited re-reads the row
as it is now (PostgreSQL's EvalPlanQual); under repeatable read it fails if the row changed.

XIDs are assigned on the first write only, as in PostgreSQL, so read-only transactions consume
none. ``put`` is an upsert (insert when no row exists, update otherwise); a blind ``put`` does
not read. The engine is single-threaded and sans-IO: concurrency comes from a caller
interleaving statements of several transactions (see :mod:`archlab.storage.mvcc.scheduler`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

from archlab.errors import ConfigError, UnknownNameError
from archlab.storage.mvcc import autovacuum
from archlab.storage.mvcc.clog import CommitLog, XidStatus
from archlab.storage.mvcc.errors import (
    DeadlockDetected,
    LockWait,
    SerializationFailure,
    TransactionClosed,
    TransactionError,
    WraparoundRefusal,
)
from archlab.storage.mvcc.heap import Heap
from archlab.storage.mvcc.heaptuple import Tid, TupleVersion
from archlab.storage.mvcc.settings import MvccSettings
from archlab.storage.mvcc.snapshot import Snapshot
from archlab.storage.mvcc.ssi import SerializableXact, SsiManager
from archlab.storage.mvcc.table import Table, TableStats
from archlab.storage.mvcc.transaction import (
    DEFAULT_TABLE,
    Isolation,
    Transaction,
    TxnState,
    WriteKind,
)
from archlab.storage.mvcc.transam import XidCounter
from archlab.storage.mvcc.vacuum import VacuumReport, vacuum_table
from archlab.storage.mvcc.visibility import conflict_out_xid, satisfies_mvcc

IN_PROGRESS = XidStatus.IN_PROGRESS
COMMITTED = XidStatus.COMMITTED
ABORTED = XidStatus.ABORTED


class Engine:
    """Tables of tuple versions, the commit log, the XID counter, locks, SSI and vacuum."""

    def __init__(
        self, settings: MvccSettings | None = None, tables: Iterable[str] = (DEFAULT_TABLE,)
    ) -> None:
        self.settings = settings or MvccSettings()
        self.space = self.settings.space
        self.clog = CommitLog(self.space)
        self.xids = XidCounter(self.settings)
        self.ssi = SsiManager()
        self.tables: dict[str, Table] = {}
        self.active: dict[int, Transaction] = {}
        self.running: dict[int, Transaction] = {}  # by XID: the procarray
        self._next_txn_id = 1
        self.commits = 0
        self.aborts = 0
        self.failures: dict[str, int] = {}
        self.tuples_examined = 0
        self.vacuum_log: list[VacuumReport] = []
        for name in tables:
            self.create_table(name)

    # -- catalogue -------------------------------------------------------------------------------

    def create_table(self, name: str) -> None:
        if name in self.tables:
            raise ConfigError(f"table {name!r} already exists")
        self.tables[name] = Table(
            name, Heap(self.settings.tuples_per_page), relfrozenxid=self.xids.next_xid
        )

    def table(self, name: str = DEFAULT_TABLE) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise UnknownNameError("table", name, list(self.tables)) from None

    def stats(self, name: str = DEFAULT_TABLE) -> TableStats:
        return self.table(name).stats(self.settings.page_bytes)

    # -- transactions ----------------------------------------------------------------------------

    def begin(self, isolation: Isolation | str = Isolation.READ_COMMITTED) -> Transaction:
        try:
            level = Isolation(isolation)
        except ValueError:
            raise UnknownNameError(
                "isolation level", str(isolation), [i.value for i in Isolation]
            ) from None
        txn = Transaction(self, self._next_txn_id, level)
        self._next_txn_id += 1
        self.active[txn.id] = txn
        return txn

    def is_active(self, txn_id: int) -> bool:
        return txn_id in self.active

    def status(self, xid: int) -> XidStatus:
        return self.clog.status(xid)

    def take_snapshot(self) -> Snapshot:
        """``GetSnapshotData``: the running XIDs and the next one, right now."""
        xmax = self.xids.next_xid
        xip = frozenset(self.running)
        xmin = xmax
        precedes = self.space.precedes
        for xid in xip:
            if precedes(xid, xmin):
                xmin = xid
        return Snapshot(xmin, xmax, xip, self.space)

    def horizon(self) -> int:
        """``OldestXmin``: the oldest XID some running transaction may still treat as
        running (its own XID, or its snapshot's xmin). Nothing newer may be vacuumed away."""
        precedes = self.space.precedes
        oldest = self.xids.next_xid
        for txn in self.active.values():
            if txn.xid and precedes(txn.xid, oldest):
                oldest = txn.xid
            if txn.snapshot is not None and precedes(txn.snapshot.xmin, oldest):
                oldest = txn.snapshot.xmin
        return oldest

    # -- vacuum ----------------------------------------------------------------------------------

    def vacuum(
        self,
        table: str | None = None,
        *,
        aggressive: bool = False,
        freeze: bool = False,
        reason: str = "manual",
    ) -> list[VacuumReport]:
        """``VACUUM [FREEZE] [table]``: every table when ``table`` is None."""
        names = list(self.tables) if table is None else [self.table(table).name]
        reports = []
        for name in names:
            reports.append(self._vacuum_one(name, aggressive or freeze, freeze, reason, False))
        return reports

    def autovacuum(self) -> list[VacuumReport]:
        """One pass of the autovacuum launcher over every table."""
        reports = []
        for name, tbl in self.tables.items():
            decision = autovacuum.decide(tbl, self.settings, self.xids.next_xid)
            if decision.vacuum:
                reason = ("anti-wraparound: " if decision.anti_wraparound else "") + decision.reason
                reports.append(
                    self._vacuum_one(name, decision.anti_wraparound, False, reason, True)
                )
        return reports

    def _vacuum_one(
        self, name: str, aggressive: bool, freeze: bool, reason: str, auto: bool
    ) -> VacuumReport:
        tbl = self.tables[name]
        next_xid = self.xids.next_xid
        if self.space.age(tbl.relfrozenxid, next_xid) > self.settings.effective_freeze_table_age:
            aggressive = True
        report = vacuum_table(
            tbl,
            horizon=self._vacuum_horizon(),
            status=self.clog.status,
            settings=self.settings,
            aggressive=aggressive,
            freeze_min_age=0 if freeze else None,
            reason=reason,
        )
        if auto:
            tbl.autovacuum_count += 1
        else:
            tbl.vacuum_count += 1
        self.vacuum_log.append(report)
        self._update_frozen_limits()
        return report

    def _vacuum_horizon(self) -> int:
        return self.horizon()

    def _update_frozen_limits(self) -> None:
        """``vac_update_datfrozenxid``: the oldest relfrozenxid bounds the limits and the
        commit log."""
        oldest = None
        for tbl in self.tables.values():
            if oldest is None or self.space.precedes(tbl.relfrozenxid, oldest):
                oldest = tbl.relfrozenxid
        if oldest is None:
            return
        if oldest != self.xids.limits.oldest_frozen:
            self.xids.set_oldest_frozen(oldest)
            self.clog.truncate_before(oldest)

    def datfrozenxid(self) -> int:
        return self.xids.limits.oldest_frozen

    def xid_age(self) -> int:
        """``age(datfrozenxid)``: how far the counter is ahead of the oldest unfrozen XID."""
        return self.space.age(self.datfrozenxid(), self.xids.next_xid)

    # -- statements ------------------------------------------------------------------------------

    def _enter(self, txn: Transaction) -> None:
        if txn.state is not TxnState.ACTIVE:
            raise TransactionClosed(f"transaction {txn.id} is {txn.state.value}")
        txn.waiting_for = None
        if txn.sx is not None and txn.sx.doomed:
            self._fail(
                txn,
                SerializationFailure(
                    "could not serialize access due to read/write dependencies among "
                    "transactions (doomed as a pivot)"
                ),
                "ssi-doomed",
            )

    def _statement_snapshot(self, txn: Transaction) -> Snapshot:
        if txn.snapshot is not None:
            return txn.snapshot
        snapshot = self.take_snapshot()
        if txn.isolation is not Isolation.READ_COMMITTED:
            txn.snapshot = snapshot
            if txn.isolation is Isolation.SERIALIZABLE:
                txn.sx = self.ssi.begin(txn.id)
                if txn.xid:
                    self.ssi.assign_xid(txn.sx, txn.xid)
        return snapshot

    def _visible(self, tup: TupleVersion, snapshot: Snapshot, me: int) -> bool:
        """The visibility rule in force (tests swap in broken ones to see them caught)."""
        return satisfies_mvcc(tup, snapshot, me, self.clog.status)

    def _read_key(
        self, txn: Transaction, tbl: Table, key: str, snapshot: Snapshot
    ) -> tuple[Tid, TupleVersion] | None:
        """The version of ``key`` the snapshot sees; SSI locks and conflicts on the way."""
        sx = txn.sx
        if sx is not None:
            self.ssi.lock_key(sx, tbl.name, key)
        tids = tbl.index.get(key)
        if not tids:
            return None
        found = None
        heap = tbl.heap
        for tid in reversed(tids):
            tup = heap.fetch(tid)
            self.tuples_examined += 1
            visible = self._visible(tup, snapshot, txn.xid)
            if sx is not None:
                self._conflict_out(txn, sx, tup, visible, snapshot)
            if visible and found is None:
                found = (tid, tup)
                if sx is None:
                    break
        return found

    def _conflict_out(
        self,
        txn: Transaction,
        sx: SerializableXact,
        tup: TupleVersion,
        visible: bool,
        snapshot: Snapshot,
    ) -> None:
        xid = conflict_out_xid(tup, visible, self.clog.status)
        if xid and xid != txn.xid and snapshot.in_progress(xid):
            try:
                self.ssi.conflict_out(sx, xid)
            except SerializationFailure as exc:
                self._fail(txn, exc, "ssi")

    def _get(self, txn: Transaction, table: str, key: str, for_update: bool) -> Any:
        if for_update:
            return self._write(txn, table, key, None, WriteKind.LOCK)
        self._enter(txn)
        tbl = self.table(table)
        found = self._read_key(txn, tbl, key, self._statement_snapshot(txn))
        return None if found is None else found[1].value

    def _scan(
        self, txn: Transaction, table: str, start: str | None, end: str | None
    ) -> list[tuple[str, Any]]:
        self._enter(txn)
        tbl = self.table(table)
        snapshot = self._statement_snapshot(txn)
        sx = txn.sx
        if sx is not None:
            self.ssi.lock_range(sx, tbl.name, start, end)
        me = txn.xid
        rows = []
        examined = 0
        for page in tbl.heap.pages:
            for tup in page.slots:
                if tup is None:
                    continue
                examined += 1
                key = tup.key
                if (start is not None and key < start) or (end is not None and key >= end):
                    continue
                visible = self._visible(tup, snapshot, me)
                if sx is not None:
                    self._conflict_out(txn, sx, tup, visible, snapshot)
                if visible:
                    rows.append((key, tup.value))
        self.tuples_examined += examined
        rows.sort(key=lambda row: row[0])
        return rows

    def _write(self, txn: Transaction, table: str, key: str, value: Any, op: WriteKind) -> Any:  # noqa: PLR0912, PLR0915 - PostgreSQL's heap_update/heap_delete decision tree: visibility, locks, conflicts, in its order
        """put / delete / lock one row; returns the row's value (lock), True (delete, put) or
        None (no such row)."""
        self._enter(txn)
        tbl = self.table(table)
        snapshot = self._statement_snapshot(txn)
        if op is WriteKind.PUT:
            visible = self._find_visible(txn, tbl, key, snapshot)
        else:
            found = self._read_key(txn, tbl, key, snapshot)
            if found is None:
                return None
            visible = found[1]
        xid = self._assign_xid(txn)
        status = self.clog.status
        tip_tid, tip = self._tip(tbl, key)
        deleted = False
        if tip is not None:
            if not tip.frozen and tip.xmin != xid and status(tip.xmin) is IN_PROGRESS:
                self._wait(txn, tip.xmin)
            xmax = tip.xmax
            if xmax and xmax != xid and status(xmax) is IN_PROGRESS:
                self._wait(txn, xmax)
            deleted = (
                bool(xmax) and not tip.lock_only and (xmax == xid or status(xmax) is COMMITTED)
            )
        self._check_write_conflict(txn, visible, tip, deleted)
        target = tip if tip is not None and not deleted else None
        if op is not WriteKind.PUT and target is None:
            return None  # read committed: the row went away while we waited
        if op is WriteKind.LOCK:
            assert target is not None and tip_tid is not None
            if target.xmax != xid:
                target.xmax = xid
                target.lock_only = True
                tbl.heap.pages[tip_tid[0]].clear_visibility()
            return target.value
        if txn.sx is not None:
            try:
                self.ssi.conflict_in(txn.sx, tbl.name, key)
            except SerializationFailure as exc:
                self._fail(txn, exc, "ssi")
        changes = txn.changes.setdefault(tbl.name, [0, 0, 0])
        near = None
        if target is not None:
            assert tip_tid is not None
            target.xmax = xid
            target.lock_only = False
            tbl.heap.pages[tip_tid[0]].clear_visibility()
            near = tip_tid[0]
        if op is WriteKind.DELETE:
            changes[2] += 1
            return True
        if target is None:
            changes[0] += 1
        else:
            changes[1] += 1
        tid = tbl.heap.insert(TupleVersion(key, value, xid), near)
        tbl.add_version(key, tid)
        return True

    def _check_write_conflict(
        self,
        txn: Transaction,
        visible: TupleVersion | None,
        tip: TupleVersion | None,
        deleted: bool,
    ) -> None:
        """First updater wins: under repeatable read and serializable, the row a statement
        writes must still be the version its snapshot sees (``heap_update`` returning
        ``TM_Updated`` to a transaction-snapshot isolation level)."""
        if txn.isolation is Isolation.READ_COMMITTED:
            return
        if visible is not None and (tip is not visible or deleted):
            what = "delete" if deleted or tip is None else "update"
            self._fail(
                txn,
                SerializationFailure(f"could not serialize access due to concurrent {what}"),
                "first-updater-wins",
            )
        if visible is None and tip is not None and not deleted:
            self._fail(
                txn,
                SerializationFailure("could not serialize access due to concurrent insert"),
                "first-updater-wins",
            )

    def _find_visible(
        self, txn: Transaction, tbl: Table, key: str, snapshot: Snapshot
    ) -> TupleVersion | None:
        heap = tbl.heap
        for tid in reversed(tbl.index.get(key, ())):
            tup = heap.fetch(tid)
            if self._visible(tup, snapshot, txn.xid):
                return tup
        return None

    def _tip(self, tbl: Table, key: str) -> tuple[Tid | None, TupleVersion | None]:
        """The newest version of ``key`` whose creator did not abort."""
        heap = tbl.heap
        status = self.clog.status
        for tid in reversed(tbl.index.get(key, ())):
            tup = heap.fetch(tid)
            if tup.frozen or status(tup.xmin) is not ABORTED:
                return tid, tup
        return None, None

    def _assign_xid(self, txn: Transaction) -> int:
        if txn.xid:
            return txn.xid
        try:
            xid = self.xids.assign()
        except WraparoundRefusal as exc:
            self._fail(txn, exc, "xid-refused")
        self.clog.start(xid)
        self.running[xid] = txn
        txn.xid = xid
        if txn.sx is not None:
            self.ssi.assign_xid(txn.sx, xid)
        return xid

    def _wait(self, txn: Transaction, xid: int) -> None:
        """Wait for the transaction running ``xid``, unless that closes a cycle of waits."""
        holder = self.running[xid]
        if self._closes_cycle(txn, holder):
            self._fail(
                txn,
                DeadlockDetected(
                    f"deadlock detected: transaction {txn.id} would wait for {holder.id}, "
                    "which is (indirectly) waiting for it"
                ),
                "deadlock",
            )
        txn.waiting_for = holder
        raise LockWait(txn.id, holder.id, xid)

    def _closes_cycle(self, waiter: Transaction, holder: Transaction) -> bool:
        """Would ``waiter`` waiting for ``holder`` close a cycle in the wait-for graph? A
        blocked transaction waits for exactly one other, so the graph is a set of chains."""
        node: Transaction | None = holder
        while node is not None:
            if node is waiter:
                return True
            node = node.waiting_for
        return False

    # -- the end of a transaction ----------------------------------------------------------------

    def _commit(self, txn: Transaction) -> None:
        if txn.state is not TxnState.ACTIVE:
            raise TransactionClosed(f"transaction {txn.id} is {txn.state.value}")
        txn.waiting_for = None
        if txn.sx is not None:
            try:
                self.ssi.precommit(txn.sx)
            except SerializationFailure as exc:
                self._fail(txn, exc, "ssi")
        if txn.xid:
            self.clog.commit(txn.xid)
            del self.running[txn.xid]
        for name, (inserted, updated, deleted) in txn.changes.items():
            tbl = self.tables[name]
            tbl.n_live_tup += inserted - deleted
            tbl.n_dead_tup += updated + deleted
            tbl.inserts_since_vacuum += inserted
        if txn.sx is not None:
            self.ssi.commit(txn.sx)
        self.commits += 1
        self._finish(txn, TxnState.COMMITTED)

    def _abort(self, txn: Transaction) -> None:
        if txn.state is not TxnState.ACTIVE:
            return
        if txn.xid:
            self.clog.abort(txn.xid)
            del self.running[txn.xid]
        for name, (inserted, updated, _) in txn.changes.items():
            self.tables[name].n_dead_tup += inserted + updated
        if txn.sx is not None:
            self.ssi.abort(txn.sx)
        self.aborts += 1
        self._finish(txn, TxnState.ABORTED)

    def _finish(self, txn: Transaction, state: TxnState) -> None:
        txn.state = state
        txn.waiting_for = None
        txn.snapshot = None
        del self.active[txn.id]

    def _fail(self, txn: Transaction, error: TransactionError, kind: str) -> NoReturn:
        """Roll ``txn`` back and raise ``error`` (every error ends its transaction)."""
        self.failures[kind] = self.failures.get(kind, 0) + 1
        txn.error = error
        self._abort(txn)
        raise error
