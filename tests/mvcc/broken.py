"""Engines broken on purpose, one rule each, to show the checks catch them."""

from __future__ import annotations

from archlab.storage.mvcc import Engine
from archlab.storage.mvcc.heaptuple import TupleVersion
from archlab.storage.mvcc.snapshot import Snapshot
from archlab.storage.mvcc.ssi import SerializableXact, SsiManager
from archlab.storage.mvcc.visibility import satisfies_mvcc


class IgnoresInProgressList(Engine):
    """Visibility that forgets the snapshot's list of running transactions: anything that
    committed by the time of the read counts, even if it was running at snapshot time."""

    def _visible(self, tup: TupleVersion, snapshot: Snapshot, me: int) -> bool:
        blind = Snapshot(snapshot.xmin, snapshot.xmax, frozenset(), snapshot.space)
        return satisfies_mvcc(tup, blind, me, self.clog.status)


class NoFirstUpdaterWins(Engine):
    """Repeatable read that lets a transaction overwrite a row changed since its snapshot."""

    def _check_write_conflict(
        self,
        txn: object,
        visible: TupleVersion | None,
        tip: TupleVersion | None,
        deleted: bool,
    ) -> None:
        return None


class _NoSsi(SsiManager):
    def conflict_in(self, writer: SerializableXact, table: str, key: str) -> None:
        return None

    def conflict_out(self, reader: SerializableXact, writer_xid: int) -> None:
        return None


class SerializableWithoutSsi(Engine):
    """Serializable that is only snapshot isolation: SSI never sees a conflict."""

    def __init__(self) -> None:
        super().__init__()
        self.ssi = _NoSsi()


class VacuumIgnoringSnapshots(Engine):
    """A vacuum horizon that ignores running transactions and their snapshots."""

    def _vacuum_horizon(self) -> int:
        return self.xids.next_xid
