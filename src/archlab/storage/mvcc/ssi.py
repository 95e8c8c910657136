"""Serializable snapshot isolation: rw-antidependency tracking and pivot aborts, as
PostgreSQL's ``predicate.c`` does it (Ports & Grittner, VLDB 2012; codex 4.3 and 5.1).

Snapshot isolation admits exactly one kind of anomaly: a cycle in the dependency graph that
contains two consecutive rw-antidependencies (T0 --rw--> T1 --rw--> T2) between concurrent
transactions (Fekete et al. 2005). "T --rw--> U" means T read a version that U overwrote, or
did not see a row U inserted. SSI watches for that *dangerous structure* and aborts one of its
transactions, preferably the pivot T1, before it can commit. PostgreSQL adds one refinement
kept here: the structure is only dangerous when T2 commits first.

How edges are found:

* reads take SIREAD locks (on each key read, present or absent, and on each scanned range);
  they outlive the reader's commit until no concurrent transaction is left;
* a write checks the SIREAD locks on the key it writes: each concurrent holder gets an edge
  holder --rw--> writer (``CheckForSerializableConflictIn``);
* a read that meets a version written by a concurrent transaction (a newer version it does
  not see, or the deleter of the version it sees) adds reader --rw--> writer
  (``CheckForSerializableConflictOut``).

When an edge appears, :meth:`SsiManager._flag` runs ``OnConflict_CheckForSerializationFailure``;
at commit :meth:`SsiManager.precommit` runs ``PreCommit_CheckForSerializationFailure``. A
transaction that must die but is not the one running is *doomed* and fails at its next
statement or at commit. PostgreSQL's read-only optimisations (safe snapshots, deferrable
transactions) and lock-granularity promotion are not implemented: every serializable
transaction is treated as read-write, which can only abort more, never less.
"""

from __future__ import annotations

from collections import Counter

from archlab.storage.mvcc.errors import SerializationFailure


class SerializableXact:
    """``SERIALIZABLEXACT``: the SSI state of one serializable transaction."""

    __slots__ = (
        "aborted",
        "commit_seq",
        "conflict_out_to_earlier",
        "doomed",
        "earliest_out_conflict_commit",
        "in_conflicts",
        "keys",
        "out_conflicts",
        "prepare_seq",
        "ranges",
        "snapshot_seq",
        "txn_id",
        "xid",
    )

    def __init__(self, txn_id: int, snapshot_seq: int) -> None:
        self.txn_id = txn_id
        self.xid = 0
        #: ``lastCommitBeforeSnapshot``: commits numbered up to this one are in the snapshot.
        self.snapshot_seq = snapshot_seq
        self.prepare_seq: int | None = None
        self.commit_seq: int | None = None
        self.doomed = False
        self.aborted = False
        #: readers R with R --rw--> self (they read something self wrote after them)
        self.in_conflicts: set[SerializableXact] = set()
        #: writers W with self --rw--> W (they overwrote something self read)
        self.out_conflicts: set[SerializableXact] = set()
        #: ``SXACT_FLAG_CONFLICT_OUT``: committed with an rw edge out to an earlier commit.
        self.conflict_out_to_earlier = False
        self.earliest_out_conflict_commit: int | None = None
        self.keys: set[tuple[str, str]] = set()
        self.ranges: list[tuple[str, str | None, str | None]] = []

    @property
    def committed(self) -> bool:
        return self.commit_seq is not None

    @property
    def prepared(self) -> bool:
        return self.prepare_seq is not None

    def __repr__(self) -> str:
        state = "committed" if self.committed else "aborted" if self.aborted else "active"
        return f"<sxact {self.txn_id} {state}{' doomed' if self.doomed else ''}>"


class SsiManager:
    """Predicate (SIREAD) locks, rw-conflict edges and the dangerous-structure checks."""

    def __init__(self) -> None:
        self.last_commit_seq = 0
        self.active: set[SerializableXact] = set()
        self.finished: list[SerializableXact] = []  # committed, kept while others overlap
        self.by_xid: dict[int, SerializableXact] = {}
        self.key_locks: dict[tuple[str, str], set[SerializableXact]] = {}
        self.range_locks: dict[str, list[tuple[str | None, str | None, SerializableXact]]] = {}
        self.failures: Counter[str] = Counter()
        self.edges = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def begin(self, txn_id: int) -> SerializableXact:
        """Register a serializable transaction as it takes its snapshot."""
        sx = SerializableXact(txn_id, self.last_commit_seq)
        self.active.add(sx)
        return sx

    def assign_xid(self, sx: SerializableXact, xid: int) -> None:
        sx.xid = xid
        self.by_xid[xid] = sx

    def precommit(self, sx: SerializableXact) -> None:
        """``PreCommit_CheckForSerializationFailure``: fail if doomed; doom pivots whose
        out-conflict is this (first) commit."""
        if sx.doomed:
            self._fail("pivot-commit", "on identification as a pivot, during commit attempt")
        for near in sorted(sx.in_conflicts, key=_by_id):  # near --rw--> sx
            if near.committed or near.doomed:
                continue
            for far in sorted(
                near.in_conflicts, key=_by_id
            ):  # far --rw--> near --rw--> sx, sx commits first
                if far is sx or not (far.committed or far.doomed):
                    near.doomed = True
                    self.failures["pivot-doomed-at-commit"] += 1
                    break
        self.last_commit_seq += 1
        sx.prepare_seq = self.last_commit_seq

    def commit(self, sx: SerializableXact) -> None:
        self.last_commit_seq += 1
        sx.commit_seq = self.last_commit_seq
        self.active.discard(sx)
        for writer in sx.out_conflicts:
            if writer.committed and writer.prepare_seq is not None:
                earliest = sx.earliest_out_conflict_commit
                if earliest is None or writer.prepare_seq < earliest:
                    sx.earliest_out_conflict_commit = writer.prepare_seq
                sx.conflict_out_to_earlier = True
        self.finished.append(sx)
        self._cleanup()

    def abort(self, sx: SerializableXact) -> None:
        sx.aborted = True
        self.active.discard(sx)
        self._release(sx)
        self._cleanup()

    # -- reads ---------------------------------------------------------------------------------

    def lock_key(self, sx: SerializableXact, table: str, key: str) -> None:
        tag = (table, key)
        if tag not in sx.keys:
            sx.keys.add(tag)
            self.key_locks.setdefault(tag, set()).add(sx)

    def lock_range(self, sx: SerializableXact, table: str, lo: str | None, hi: str | None) -> None:
        sx.ranges.append((table, lo, hi))
        self.range_locks.setdefault(table, []).append((lo, hi, sx))

    def conflict_out(self, reader: SerializableXact, writer_xid: int) -> None:
        """The reader met a write by ``writer_xid``, a transaction concurrent with it."""
        writer = self.by_xid.get(writer_xid)
        if writer is None or writer is reader or writer.aborted:
            return  # not serializable (or already forgotten): SSI does not track it
        if writer in reader.out_conflicts:
            return
        self._flag(reader, writer, me=reader)

    # -- writes --------------------------------------------------------------------------------

    def conflict_in(self, writer: SerializableXact, table: str, key: str) -> None:
        """``CheckForSerializableConflictIn``: every concurrent reader of ``key`` gets an edge
        to the writer."""
        holders = set(self.key_locks.get((table, key), ()))
        for lo, hi, sx in self.range_locks.get(table, ()):
            if (lo is None or lo <= key) and (hi is None or key < hi):
                holders.add(sx)
        for reader in sorted(holders, key=_by_id):
            if reader is writer or reader.doomed or reader.aborted:
                continue
            if reader.commit_seq is not None and reader.commit_seq <= writer.snapshot_seq:
                continue  # the reader committed before the writer's snapshot: not concurrent
            if writer in reader.out_conflicts:
                continue
            self._flag(reader, writer, me=writer)

    # -- the dangerous-structure check ---------------------------------------------------------

    def _flag(
        self, reader: SerializableXact, writer: SerializableXact, me: SerializableXact
    ) -> None:
        """Add reader --rw--> writer and run ``OnConflict_CheckForSerializationFailure``."""
        reader.out_conflicts.add(writer)
        writer.in_conflicts.add(reader)
        self.edges += 1
        failure = writer.committed and writer.conflict_out_to_earlier
        if not failure:
            # reader --rw--> writer --rw--> t2, and t2 committed before both could
            for t2 in writer.out_conflicts:
                t2_prep = t2.prepare_seq
                if (
                    t2_prep is not None
                    and (reader.commit_seq is None or t2_prep <= reader.commit_seq)
                    and (writer.commit_seq is None or t2_prep <= writer.commit_seq)
                ):
                    failure = True
                    break
        if not failure and writer.prepare_seq is not None:
            # t0 --rw--> reader --rw--> writer, and the writer already committed first
            for t0 in reader.in_conflicts:
                if not t0.doomed and (t0.commit_seq is None or t0.commit_seq >= writer.prepare_seq):
                    failure = True
                    break
        if not failure:
            return
        if me is writer:
            self._fail("pivot-write", "on identification as a pivot, during write")
        if writer.prepared:
            self._fail("pivot-read", "on conflict out to pivot, during read")
        writer.doomed = True
        self.failures["pivot-doomed"] += 1

    def _fail(self, kind: str, detail: str) -> None:
        self.failures[kind] += 1
        raise SerializationFailure(
            "could not serialize access due to read/write dependencies among transactions "
            f"({detail})"
        )

    # -- forgetting ----------------------------------------------------------------------------

    def _cleanup(self) -> None:
        """Forget committed transactions no active transaction overlaps: they can take part in
        no new rw edge (edges join concurrent transactions only)."""
        active = self.active
        oldest = min(sx.snapshot_seq for sx in active) if active else self.last_commit_seq
        keep = []
        for sx in self.finished:
            if sx.commit_seq is not None and sx.commit_seq <= oldest:
                self._release(sx)
            else:
                keep.append(sx)
        self.finished = keep

    def _release(self, sx: SerializableXact) -> None:
        for other in sx.in_conflicts:
            other.out_conflicts.discard(sx)
        for other in sx.out_conflicts:
            other.in_conflicts.discard(sx)
        sx.in_conflicts = set()
        sx.out_conflicts = set()
        for tag in sx.keys:
            holders = self.key_locks.get(tag)
            if holders is not None:
                holders.discard(sx)
                if not holders:
                    del self.key_locks[tag]
        sx.keys = set()
        for table in {r[0] for r in sx.ranges}:
            kept = [r for r in self.range_locks.get(table, ()) if r[2] is not sx]
            if kept:
                self.range_locks[table] = kept
            else:
                self.range_locks.pop(table, None)
        sx.ranges = []
        if sx.xid and self.by_xid.get(sx.xid) is sx:
            del self.by_xid[sx.xid]


def _by_id(sx: SerializableXact) -> int:
    """Iteration order over sets of transactions, fixed so runs are reproducible."""
    return sx.txn_id
