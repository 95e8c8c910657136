"""The commit log: the fate of every transaction id still in use (codex 4.3).

PostgreSQL's ``pg_xact`` (formerly ``pg_clog``) keeps two bits per XID: in progress, committed,
aborted. A tuple header only says *which* transactions created and deleted it; the commit log
says whether they committed. Entries older than the oldest unfrozen XID of the database
(``datfrozenxid``) are truncated away: every tuple that old has been frozen by vacuum, so no
lookup will ever need them. A lookup of a truncated id is therefore a bug in freezing, and is
reported as one instead of guessing an answer.

Ids are reused after the counter wraps; assigning an id again overwrites its old status, as
``ExtendCLOG`` zeroes a fresh page.
"""

from __future__ import annotations

from collections import deque
from enum import IntEnum

from archlab.storage.mvcc.xid import BOOTSTRAP_XID, FROZEN_XID, XidSpace


class XidStatus(IntEnum):
    IN_PROGRESS = 0
    COMMITTED = 1
    ABORTED = 2


class TruncatedXidError(RuntimeError):
    """The commit log was asked about an id it has already truncated: a freezing bug."""


class CommitLog:
    """Status of each XID, with truncation below the oldest unfrozen XID."""

    def __init__(self, space: XidSpace) -> None:
        self.space = space
        self._status: dict[int, XidStatus] = {}
        # (id, assignment number) in assignment order, for truncation; an id reused after a
        # full trip around the space gets a new number, so truncating its old use keeps it
        self._order: deque[tuple[int, int]] = deque()
        self._assignment: dict[int, int] = {}
        self._assigned = 0

    def __len__(self) -> int:
        return len(self._status)

    def start(self, xid: int) -> None:
        """Record ``xid`` as assigned and in progress."""
        self._status[xid] = XidStatus.IN_PROGRESS
        self._assigned += 1
        self._assignment[xid] = self._assigned
        self._order.append((xid, self._assigned))

    def commit(self, xid: int) -> None:
        self._set(xid, XidStatus.COMMITTED)

    def abort(self, xid: int) -> None:
        self._set(xid, XidStatus.ABORTED)

    def status(self, xid: int) -> XidStatus:
        found = self._status.get(xid)
        if found is not None:
            return found
        if xid in (BOOTSTRAP_XID, FROZEN_XID):
            return XidStatus.COMMITTED
        raise TruncatedXidError(f"commit log has no entry for XID {xid} (truncated or unused)")

    def truncate_before(self, oldest_kept: int) -> int:
        """Forget every id that precedes ``oldest_kept``; returns how many were dropped."""
        dropped = 0
        order = self._order
        while order and self.space.precedes(order[0][0], oldest_kept):
            xid, number = order[0]
            if self._assignment.get(xid) != number:
                order.popleft()  # the id was assigned again since: that entry is not this one
                continue
            if self._status[xid] is XidStatus.IN_PROGRESS:
                break  # still running: cannot be older than the horizon; keep it to be safe
            order.popleft()
            del self._status[xid]
            del self._assignment[xid]
            dropped += 1
        return dropped

    def _set(self, xid: int, status: XidStatus) -> None:
        if self._status.get(xid) is not XidStatus.IN_PROGRESS:
            raise RuntimeError(f"XID {xid} is not in progress; cannot mark it {status.name}")
        self._status[xid] = status
