"""The visibility rules (HeapTupleSatisfiesMVCC / Vacuum) and snapshots, case by case."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from archlab.storage.mvcc.clog import CommitLog, TruncatedXidError, XidStatus
from archlab.storage.mvcc.heaptuple import TupleVersion
from archlab.storage.mvcc.snapshot import Snapshot
from archlab.storage.mvcc.visibility import (
    TupleState,
    conflict_out_xid,
    satisfies_mvcc,
    satisfies_vacuum,
)
from archlab.storage.mvcc.xid import XidSpace

SPACE = XidSpace(32)
C, A, R = XidStatus.COMMITTED, XidStatus.ABORTED, XidStatus.IN_PROGRESS

# XIDs 10..19 exist: 10, 11 committed before the snapshot; 12 running at snapshot time and
# committed since; 13 running and still running; 14 aborted; 15 started after the snapshot and
# committed; 16 is the reader itself.
STATUS = {10: C, 11: C, 12: C, 13: R, 14: A, 15: C, 16: R}
SNAP = Snapshot(xmin=12, xmax=15, xip=frozenset({12, 13}), space=SPACE)
ME = 16


def status(xid: int) -> XidStatus:
    return STATUS[xid]


def version(
    xmin: int, xmax: int = 0, lock_only: bool = False, frozen: bool = False
) -> TupleVersion:
    return TupleVersion("k", "v", xmin, xmax, lock_only, frozen)


@pytest.mark.parametrize(
    ("tup", "visible", "why"),
    [
        (version(10), True, "creator committed before the snapshot"),
        (version(12), False, "creator was running at snapshot time (in xip), committed later"),
        (version(13), False, "creator still running"),
        (version(14), False, "creator aborted"),
        (version(15), False, "creator started after the snapshot (>= xmax)"),
        (version(ME), True, "own insert"),
        (version(ME, ME), False, "own insert, then own delete"),
        (version(10, ME), False, "deleted by the reader itself"),
        (version(10, 11), False, "deleter committed before the snapshot"),
        (version(10, 12), True, "deleter in xip: the delete is not visible yet"),
        (version(10, 13), True, "deleter still running"),
        (version(10, 14), True, "deleter aborted"),
        (version(10, 15), True, "deleter started after the snapshot"),
        (version(10, 11, lock_only=True), True, "only locked, never deleted"),
        (version(ME, ME, lock_only=True), True, "own insert, own lock"),
        (version(15, frozen=True), True, "frozen: committed and older than everything"),
        (version(15, 11, frozen=True), False, "frozen creator, committed deleter"),
    ],
)
def test_satisfies_mvcc(tup: TupleVersion, visible: bool, why: str) -> None:
    assert satisfies_mvcc(tup, SNAP, ME, status) is visible, why


def test_a_reader_without_an_xid_sees_no_own_writes() -> None:
    assert satisfies_mvcc(version(10), SNAP, 0, status)
    assert not satisfies_mvcc(version(12), SNAP, 0, status)


@pytest.mark.parametrize(
    ("tup", "state"),
    [
        (version(13), TupleState.INSERT_IN_PROGRESS),
        (version(14), TupleState.DEAD),
        (version(10), TupleState.LIVE),
        (version(10, 14), TupleState.LIVE),
        (version(10, 13), TupleState.DELETE_IN_PROGRESS),
        (version(10, 13, lock_only=True), TupleState.LIVE),
        (version(10, 11), TupleState.DEAD),  # deleter 11 precedes horizon 12
        (version(10, 12), TupleState.RECENTLY_DEAD),  # deleter 12 not before horizon 12
        (version(10, 15), TupleState.RECENTLY_DEAD),
        (version(15, frozen=True), TupleState.LIVE),
    ],
)
def test_satisfies_vacuum_relative_to_the_horizon(tup: TupleVersion, state: TupleState) -> None:
    assert satisfies_vacuum(tup, 12, status, SPACE) is state


@pytest.mark.parametrize(
    ("tup", "visible", "writer"),
    [
        (version(10), True, 0),  # live and seen: no dependency
        (version(15), False, 15),  # a version we did not see: its creator
        (version(13), False, 13),  # insert in progress
        (version(14), False, 0),  # aborted: nothing
        (version(10, 12), True, 12),  # seen, but deleted by a concurrent transaction
        (version(10, 14), True, 0),  # deleter aborted
        (version(10, 13, lock_only=True), True, 0),  # a lock is not a write
    ],
)
def test_conflict_out_names_the_writer_a_reader_missed(
    tup: TupleVersion, visible: bool, writer: int
) -> None:
    assert conflict_out_xid(tup, visible, status) == writer


def test_snapshot_in_progress_follows_xip_and_bounds() -> None:
    assert not SNAP.in_progress(11)
    assert SNAP.in_progress(12) and SNAP.in_progress(13)
    assert not SNAP.in_progress(14)  # in [xmin, xmax) but not listed: finished
    assert SNAP.in_progress(15) and SNAP.in_progress(10**6)


@given(
    st.integers(min_value=3, max_value=2**32 - 1),
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=1, max_value=1000),
)
def test_snapshots_work_across_the_wrap(base: int, before: int, span: int) -> None:
    xmin = base
    xmax = SPACE.add(base, span)
    running = SPACE.add(base, span // 2)
    snap = Snapshot(xmin, xmax, frozenset({xmin, running}), SPACE)
    old = SPACE.add(base, -before - 1)
    assert not snap.in_progress(old)
    assert snap.in_progress(xmin)
    assert snap.in_progress(running)
    assert snap.in_progress(xmax)
    assert snap.in_progress(SPACE.add(xmax, 12345))


def test_commit_log_truncation_and_reuse() -> None:
    space = XidSpace(8)
    clog = CommitLog(space)
    for xid in range(3, 20):
        clog.start(xid)
        (clog.commit if xid % 2 else clog.abort)(xid)
    assert clog.status(5) is C and clog.status(6) is A
    assert clog.truncate_before(10) == 7
    with pytest.raises(TruncatedXidError):
        clog.status(5)
    assert clog.status(1) is C and clog.status(2) is C  # bootstrap and frozen ids
    clog.start(200)
    assert clog.status(200) is R
    with pytest.raises(RuntimeError, match="not in progress"):
        clog.commit(202)


def test_truncating_an_old_use_of_an_id_keeps_its_new_use() -> None:
    space = XidSpace(8)
    clog = CommitLog(space)
    clog.start(10)
    clog.commit(10)
    clog.start(10)  # reused after a trip around the space, before truncation caught up
    clog.truncate_before(12)
    assert clog.status(10) is R
