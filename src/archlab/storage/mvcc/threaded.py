"""A thread-safe front on the engine: blocking statements for real threads (codex 4.3).

The engine itself is single-threaded and never blocks: a statement that must wait raises
:class:`LockWait`. :class:`ThreadSafeEngine` serialises every call through one mutex and turns
``LockWait`` into a real wait: the calling thread sleeps on a condition variable until the
transaction it waits for has finished, then runs the statement again. Deadlocks are still found
by the engine at the moment a wait would close a cycle, so no thread sleeps forever on one.
``timeout`` bounds a wait all the same (PostgreSQL's ``lock_timeout``).

Use one :class:`ThreadedTransaction` per thread::

    db = ThreadSafeEngine()
    def worker():
        txn = db.begin(Isolation.SERIALIZABLE)
        txn.put("x", txn.get("x", for_update=True) + 1)
        txn.commit()
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from archlab.storage.mvcc.engine import Engine
from archlab.storage.mvcc.errors import LockWait, TransactionError
from archlab.storage.mvcc.settings import MvccSettings
from archlab.storage.mvcc.transaction import DEFAULT_TABLE, Isolation, Transaction
from archlab.storage.mvcc.vacuum import VacuumReport

T = TypeVar("T")


class LockTimeout(TransactionError):
    """``lock_timeout``: waited too long for a row lock; the transaction is rolled back."""

    sqlstate = "55P03"


class ThreadSafeEngine:
    """An :class:`Engine` shared by threads; statements block instead of raising LockWait."""

    def __init__(self, settings: MvccSettings | None = None, timeout: float = 10.0) -> None:
        self.engine = Engine(settings)
        self.timeout = timeout
        self._mutex = threading.Lock()
        self._finished = threading.Condition(self._mutex)

    def begin(self, isolation: Isolation | str = Isolation.READ_COMMITTED) -> ThreadedTransaction:
        with self._mutex:
            return ThreadedTransaction(self, self.engine.begin(isolation))

    def vacuum(self, *, freeze: bool = False) -> list[VacuumReport]:
        with self._mutex:
            return self.engine.vacuum(freeze=freeze)

    def autovacuum(self) -> list[VacuumReport]:
        with self._mutex:
            return self.engine.autovacuum()

    def _call(self, txn: Transaction, statement: Callable[[], T]) -> T:
        deadline = time.monotonic() + self.timeout
        with self._finished:
            while True:
                try:
                    return statement()
                except LockWait as wait:
                    while self.engine.is_active(wait.holder):
                        left = deadline - time.monotonic()
                        if left <= 0:
                            txn.abort()
                            self._finished.notify_all()
                            raise LockTimeout(
                                f"canceling statement due to lock timeout (waiting for "
                                f"transaction {wait.holder})"
                            ) from None
                        self._finished.wait(left)
                except TransactionError:
                    self._finished.notify_all()  # the engine rolled the transaction back
                    raise

    def _end(self, end: Callable[[], None]) -> None:
        with self._finished:
            try:
                end()
            finally:
                self._finished.notify_all()


class ThreadedTransaction:
    """The blocking counterpart of :class:`Transaction`."""

    def __init__(self, front: ThreadSafeEngine, txn: Transaction) -> None:
        self._front = front
        self.txn = txn

    def get(self, key: str, *, for_update: bool = False, table: str = DEFAULT_TABLE) -> Any:
        return self._front._call(
            self.txn, lambda: self.txn.get(key, for_update=for_update, table=table)
        )

    def put(self, key: str, value: Any, *, table: str = DEFAULT_TABLE) -> None:
        self._front._call(self.txn, lambda: self.txn.put(key, value, table=table))

    def delete(self, key: str, *, table: str = DEFAULT_TABLE) -> bool:
        return self._front._call(self.txn, lambda: self.txn.delete(key, table=table))

    def scan(
        self, start: str | None = None, end: str | None = None, *, table: str = DEFAULT_TABLE
    ) -> list[tuple[str, Any]]:
        return self._front._call(self.txn, lambda: self.txn.scan(start, end, table=table))

    def commit(self) -> None:
        self._front._end(self.txn.commit)

    def abort(self) -> None:
        self._front._end(self.txn.abort)
