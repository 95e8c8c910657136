"""The schedule's statements on a real PostgreSQL, one connection per transaction (codex 4.3).

Each transaction gets its own connection and a worker thread, because a PostgreSQL statement
that waits for a row lock blocks its client. :meth:`PostgresBackend.submit` hands the
statement to the worker and then watches the server, not a clock: the statement is *done* when
the worker returns, and *blocked* while ``pg_blocking_pids`` names a backend holding a lock it
waits for. (The lock manager is asked, not ``pg_stat_activity``: a waiter whose holder just
committed still shows its old wait event until it wakes, and would count as blocked.)
Sequential scans are disabled in every session so that reads by key take tuple-level SSI
locks through the primary-key index, as archlab's key lookups do; a scan of a key range takes
the index range it reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from archlab.storage.mvcc.postgres.play import Blocked, Done, Failed, Status
from archlab.storage.mvcc.postgres.schedules import (
    Abort,
    Commit,
    Op,
    Read,
    ReadValue,
    Scan,
    Write,
)
from archlab.storage.mvcc.postgres.server import PostgresServer
from archlab.storage.mvcc.transaction import Isolation

LEVEL_SQL = {
    Isolation.READ_COMMITTED: "READ COMMITTED",
    Isolation.REPEATABLE_READ: "REPEATABLE READ",
    Isolation.SERIALIZABLE: "SERIALIZABLE",
}
#: how often the watcher asks the lock manager while a statement runs
POLL_SECONDS = 0.002
#: a statement neither finished nor waiting on a lock after this long is a harness bug
STUCK_SECONDS = 30.0


class _Session:
    def __init__(self, server: PostgresServer) -> None:
        self.connection = server.connect(autocommit=True)
        self.connection.execute("SET enable_seqscan = off")
        self.pid: int = self.connection.info.backend_pid
        self.worker = ThreadPoolExecutor(max_workers=1)
        self.pending: Future[ReadValue] | None = None

    def close(self) -> None:
        self.worker.shutdown(wait=True)
        self.connection.close()


class PostgresBackend:
    """Runs schedules against ``server`` (started by the caller), table ``kv(k, v)``."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self.monitor = server.connect(autocommit=True)
        self.monitor.execute("DROP TABLE IF EXISTS kv")
        self.monitor.execute("CREATE TABLE kv (k text PRIMARY KEY, v integer NOT NULL)")
        self.sessions: dict[str, _Session] = {}

    def close(self) -> None:
        self._close_sessions()
        self.monitor.close()

    def _close_sessions(self) -> None:
        for session in self.sessions.values():
            session.close()
        self.sessions = {}

    def reset(self, setup: dict[str, int]) -> None:
        self._close_sessions()
        self.monitor.execute("TRUNCATE kv")
        for key, value in setup.items():
            self.monitor.execute("INSERT INTO kv VALUES (%s, %s)", (key, value))

    def begin(self, txn: str, level: Isolation) -> None:
        session = _Session(self.server)
        self.sessions[txn] = session
        session.connection.execute(f"BEGIN ISOLATION LEVEL {LEVEL_SQL[level]}")

    def submit(self, txn: str, op: Op, value: int | None) -> Status:
        session = self.sessions[txn]
        session.pending = session.worker.submit(_statement(op, value), session.connection)
        return self.poll(txn)

    def poll(self, txn: str) -> Status:
        session = self.sessions[txn]
        pending = session.pending
        if pending is None:
            raise RuntimeError(f"{txn} has no statement running")
        deadline = time.monotonic() + STUCK_SECONDS
        while not pending.done():
            if self._waiting_on_lock(session.pid):
                return Blocked()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{txn}'s statement neither finished nor waits on a lock")
            time.sleep(POLL_SECONDS)
        session.pending = None
        error = pending.exception()
        if error is None:
            return Done(pending.result())
        sqlstate = getattr(error, "sqlstate", None)
        if sqlstate is None:
            raise error
        session.connection.execute("ROLLBACK")
        return Failed(str(sqlstate))

    def _waiting_on_lock(self, pid: int) -> bool:
        row = self.monitor.execute("SELECT cardinality(pg_blocking_pids(%s))", (pid,)).fetchone()
        return row is not None and int(row[0]) > 0

    def release(self, txn: str) -> None:
        session = self.sessions[txn]
        if session.pending is not None and not session.pending.done():
            self.monitor.execute("SELECT pg_cancel_backend(%s)", (session.pid,))
            session.pending.exception()
        session.connection.execute("ROLLBACK")

    def final(self) -> dict[str, int]:
        rows = self.monitor.execute("SELECT k, v FROM kv ORDER BY k").fetchall()
        return {str(k): int(v) for k, v in rows}


def _statement(op: Op, value: int | None) -> Callable[[Any], ReadValue]:
    def run(connection: Any) -> ReadValue:
        if isinstance(op, Read):
            lock = " FOR UPDATE" if op.for_update else ""
            row = connection.execute(f"SELECT v FROM kv WHERE k = %s{lock}", (op.key,)).fetchone()
            return None if row is None else int(row[0])
        if isinstance(op, Write):
            connection.execute(
                "INSERT INTO kv VALUES (%s, %s) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                (op.key, value),
            )
            return None
        if isinstance(op, Scan):
            rows = connection.execute(
                "SELECT k, v FROM kv WHERE k >= %s AND k < %s ORDER BY k", (op.lo, op.hi)
            ).fetchall()
            return tuple((str(k), int(v)) for k, v in rows)
        if isinstance(op, Commit):
            connection.execute("COMMIT")
            return None
        if isinstance(op, Abort):
            connection.execute("ROLLBACK")
            return None
        raise TypeError(f"unknown statement {op!r}")

    return run
