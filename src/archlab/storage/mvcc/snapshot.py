"""Snapshots: which transactions a reader treats as still running (codex 4.3).

A snapshot, as ``GetSnapshotData`` builds it, is three things taken at one instant:

* ``xmax``: the next XID to be assigned. Every id at or after it started later and is invisible.
* ``xip``: the ids that were running at that instant (assigned, not yet finished).
* ``xmin``: the oldest of them (``xmax`` when none runs). Every id before it had finished.

``XidInMVCCSnapshot`` (:meth:`Snapshot.in_progress`) answers "was ``xid`` still running for
this reader?": an id before ``xmin`` was not, an id at or after ``xmax`` was, and one in between
was exactly when it is in ``xip``. A transaction counts as committed for the reader only if it
was not running at snapshot time and the commit log says it committed; committing later does not
make it visible. All comparisons are modulo the XID space.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.storage.mvcc.xid import XidSpace


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The set of transactions invisible to a reader: running at, or started after, its
    instant."""

    xmin: int
    xmax: int
    xip: frozenset[int]
    space: XidSpace

    def in_progress(self, xid: int) -> bool:
        """``XidInMVCCSnapshot``: must this reader treat ``xid`` as not (yet) committed?"""
        space = self.space
        if space.precedes(xid, self.xmin):
            return False
        if space.follows_or_equals(xid, self.xmax):
            return True
        return xid in self.xip

    def __repr__(self) -> str:
        running = ",".join(str(x) for x in sorted(self.xip))
        return f"Snapshot({self.xmin}:{self.xmax}:{running})"
