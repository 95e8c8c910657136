"""Transactions: the handle a client holds, and the isolation levels (codex 4.3).

A :class:`Transaction` is what :meth:`Engine.begin` returns; each method is one statement and
delegates to the engine, which keeps all shared state. The transaction records its XID (0 until
its first write), its snapshot (from the first statement, at repeatable read and serializable),
whom it is waiting for, its SSI state, and the versions it inserted, updated and deleted per
table, which become the table statistics autovacuum reads when it ends.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from archlab.storage.mvcc.errors import TransactionError
from archlab.storage.mvcc.snapshot import Snapshot
from archlab.storage.mvcc.ssi import SerializableXact

if TYPE_CHECKING:
    from archlab.storage.mvcc.engine import Engine

DEFAULT_TABLE = "main"


class Isolation(StrEnum):
    READ_COMMITTED = "read-committed"
    REPEATABLE_READ = "repeatable-read"
    SERIALIZABLE = "serializable"


class TxnState(StrEnum):
    ACTIVE = "active"
    COMMITTED = "committed"
    ABORTED = "aborted"


class WriteKind(StrEnum):
    """What a row-writing statement does to the newest version."""

    PUT = "put"
    DELETE = "delete"
    LOCK = "lock"


class Transaction:
    """A handle on one transaction; every method is one statement."""

    def __init__(self, engine: Engine, txn_id: int, isolation: Isolation) -> None:
        self.engine = engine
        self.id = txn_id
        self.isolation = isolation
        self.xid = 0
        self.state = TxnState.ACTIVE
        #: the transaction snapshot (repeatable read and serializable), from the first statement
        self.snapshot: Snapshot | None = None
        self.waiting_for: Transaction | None = None
        self.sx: SerializableXact | None = None
        self.error: TransactionError | None = None
        #: per table: [inserted, updated, deleted] versions, for the statistics at the end
        self.changes: dict[str, list[int]] = {}

    @property
    def active(self) -> bool:
        return self.state is TxnState.ACTIVE

    def get(self, key: str, *, for_update: bool = False, table: str = DEFAULT_TABLE) -> Any:
        """The value of ``key`` this statement sees, or None. ``for_update`` locks the row
        (``SELECT ... FOR UPDATE``) and returns its newest value."""
        return self.engine._get(self, table, key, for_update)

    def put(self, key: str, value: Any, *, table: str = DEFAULT_TABLE) -> None:
        """Insert or update ``key`` (``INSERT ... ON CONFLICT DO UPDATE``)."""
        self.engine._write(self, table, key, value, WriteKind.PUT)

    def delete(self, key: str, *, table: str = DEFAULT_TABLE) -> bool:
        """Delete the row ``key`` this statement sees; False when there is none."""
        return self.engine._write(self, table, key, None, WriteKind.DELETE) is not None

    def scan(
        self, start: str | None = None, end: str | None = None, *, table: str = DEFAULT_TABLE
    ) -> list[tuple[str, Any]]:
        """Rows with ``start <= key < end`` (None: unbounded), in key order, by reading every
        page of the heap (a sequential scan)."""
        return self.engine._scan(self, table, start, end)

    def commit(self) -> None:
        self.engine._commit(self)

    def abort(self) -> None:
        """Roll back (``ROLLBACK``); does nothing if the transaction already finished."""
        self.engine._abort(self)

    def __repr__(self) -> str:
        return f"<txn {self.id} {self.isolation} xid={self.xid or '-'} {self.state}>"
