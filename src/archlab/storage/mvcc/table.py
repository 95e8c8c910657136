"""A table: its heap, an index from key to the versions of that key, and the statistics
autovacuum reads (codex 4.3).

The index maps each key to the tids of all its versions in creation order, like a PostgreSQL
b-tree index without HOT: every version has an index entry, and vacuum removes the entries of
the versions it removes. Versions of one key form a chain because a new version can only be
written by the transaction holding the row lock on the newest one; a version whose creator
aborted is a dead branch that readers and writers skip.

The statistics are those of ``pg_stat_user_tables`` that autovacuum's trigger uses:
``n_live_tup``, ``n_dead_tup`` and inserts since the last vacuum, counted when transactions
finish (an aborted insert is a dead tuple too), and ``reltuples`` as the last vacuum measured it.
``relfrozenxid`` is the oldest XID that may remain unfrozen in the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archlab.storage.mvcc.heap import Heap
from archlab.storage.mvcc.heaptuple import Tid


@dataclass
class TableStats:
    """A snapshot of a table's size and counters (``pg_stat_user_tables`` + ``pg_class``)."""

    name: str
    pages: int
    heap_bytes: int
    tuples: int
    n_live_tup: int
    n_dead_tup: int
    reltuples: float
    inserts_since_vacuum: int
    relfrozenxid: int
    vacuum_count: int
    autovacuum_count: int


@dataclass
class Table:
    name: str
    heap: Heap
    relfrozenxid: int
    index: dict[str, list[Tid]] = field(default_factory=dict)
    n_live_tup: int = 0
    n_dead_tup: int = 0
    reltuples: float = 0.0
    inserts_since_vacuum: int = 0
    vacuum_count: int = 0
    autovacuum_count: int = 0

    def add_version(self, key: str, tid: Tid) -> None:
        self.index.setdefault(key, []).append(tid)

    def drop_versions(self, key: str, tids: set[Tid]) -> None:
        kept = [t for t in self.index[key] if t not in tids]
        if kept:
            self.index[key] = kept
        else:
            del self.index[key]

    def stats(self, page_bytes: int) -> TableStats:
        return TableStats(
            name=self.name,
            pages=len(self.heap),
            heap_bytes=len(self.heap) * page_bytes,
            tuples=self.heap.tuple_count,
            n_live_tup=self.n_live_tup,
            n_dead_tup=self.n_dead_tup,
            reltuples=self.reltuples,
            inserts_since_vacuum=self.inserts_since_vacuum,
            relfrozenxid=self.relfrozenxid,
            vacuum_count=self.vacuum_count,
            autovacuum_count=self.autovacuum_count,
        )
