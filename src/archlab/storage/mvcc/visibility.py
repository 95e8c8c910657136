"""The visibility rules: which tuple versions a snapshot sees, and which vacuum may remove
(codex 4.3).

:func:`satisfies_mvcc` is ``HeapTupleSatisfiesMVCC``: a version is visible when its creator
committed before the snapshot (or is the reader itself) and its deleter did not. "Committed
before the snapshot" needs both halves: the snapshot does not list the creator as running
(:meth:`Snapshot.in_progress`), and the commit log says it committed. A deleter the snapshot
considers running has not deleted anything yet, as far as this reader is concerned.

:func:`satisfies_vacuum` is ``HeapTupleSatisfiesVacuum``: the state of a version relative to the
*horizon*, the oldest XID any running transaction might still treat as running. A version whose
deleter committed before the horizon is DEAD: no snapshot, present or future, can see it. One
deleted after the horizon is RECENTLY_DEAD: some snapshot may still need it.

:func:`conflict_out_xid` is the half of ``HeapCheckForSerializableConflictOut`` that picks which
writer a serializable reader has an rw-antidependency to when it reads (or skips) a version.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from archlab.storage.mvcc.clog import XidStatus
from archlab.storage.mvcc.heaptuple import TupleVersion
from archlab.storage.mvcc.snapshot import Snapshot
from archlab.storage.mvcc.xid import INVALID_XID, XidSpace

StatusOf = Callable[[int], XidStatus]

COMMITTED = XidStatus.COMMITTED
IN_PROGRESS = XidStatus.IN_PROGRESS
ABORTED = XidStatus.ABORTED


class TupleState(Enum):
    """``HTSV_Result``."""

    LIVE = "live"
    DEAD = "dead"
    RECENTLY_DEAD = "recently dead"
    INSERT_IN_PROGRESS = "insert in progress"
    DELETE_IN_PROGRESS = "delete in progress"


def satisfies_mvcc(tup: TupleVersion, snapshot: Snapshot, me: int, status: StatusOf) -> bool:
    """Is ``tup`` visible to a reader holding ``snapshot`` whose own XID is ``me`` (0 if none)?

    A transaction sees its own writes: versions it created, minus those it deleted.
    """
    if not tup.frozen:
        xmin = tup.xmin
        if xmin == me:
            return tup.xmax != me or tup.lock_only
        if snapshot.in_progress(xmin) or status(xmin) is not COMMITTED:
            return False
    xmax = tup.xmax
    if xmax == INVALID_XID or tup.lock_only:
        return True
    if xmax == me:
        return False
    if snapshot.in_progress(xmax):
        return True
    return status(xmax) is not COMMITTED


def satisfies_vacuum(  # noqa: PLR0911 - HeapTupleSatisfiesVacuum's cases, one return each, as in PostgreSQL
    tup: TupleVersion, horizon: int, status: StatusOf, space: XidSpace
) -> TupleState:
    """The state of ``tup`` for vacuum, given the oldest XID still running for anyone."""
    if not tup.frozen:
        created = status(tup.xmin)
        if created is IN_PROGRESS:
            return TupleState.INSERT_IN_PROGRESS
        if created is ABORTED:
            return TupleState.DEAD
    xmax = tup.xmax
    if xmax == INVALID_XID or tup.lock_only:
        return TupleState.LIVE
    deleted = status(xmax)
    if deleted is IN_PROGRESS:
        return TupleState.DELETE_IN_PROGRESS
    if deleted is ABORTED:
        return TupleState.LIVE
    if space.precedes(xmax, horizon):
        return TupleState.DEAD
    return TupleState.RECENTLY_DEAD


def conflict_out_xid(tup: TupleVersion, visible: bool, status: StatusOf) -> int:
    """The writer a reader that did (``visible``) or did not see ``tup`` may depend on.

    Returns the XID whose write the reader missed: the deleter of a version it saw, or the
    creator of a version it did not see; 0 when there is none (the version is dead, or it is
    live and seen). The caller then keeps only writers concurrent with the reader.
    """
    if not tup.frozen:
        created = status(tup.xmin)
        if created is ABORTED:
            return INVALID_XID
        if created is IN_PROGRESS:
            return tup.xmin
    xmax = tup.xmax
    live = xmax == INVALID_XID or tup.lock_only or status(xmax) is ABORTED
    if live:
        return INVALID_XID if visible or tup.frozen else tup.xmin
    if visible:
        return xmax
    return INVALID_XID if tup.frozen else tup.xmin
