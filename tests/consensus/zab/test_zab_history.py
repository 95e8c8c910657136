"""Histories: segments, the longest common prefix of two histories, truncation, snapshots."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from archlab.consensus.zab import History, Snapshot, Txn, Zxid, common_point


def history(*segments: tuple[int, int]) -> History:
    h = History(Snapshot())
    for epoch, last in segments:
        for counter in range(1, last + 1):
            h.append(Txn(Zxid(epoch, counter), f"{epoch}.{counter}".encode()))
    return h


def test_segments_sum_up_a_history() -> None:
    h = history((1, 3), (2, 1), (4, 2))
    assert h.segments() == ((1, 3), (2, 1), (4, 2))
    assert h.length == 6 and h.last_zxid == Zxid(4, 2)
    assert h.position_of(Zxid(2, 1)) == 4 and h.position_of(Zxid(2, 2)) is None
    assert h.last_position_upto(Zxid(3, 9)) == 4


def test_common_point_ends_at_the_highest_zxid_both_hold() -> None:
    mine = history((1, 3), (2, 2), (3, 1)).segments()
    assert common_point(mine, ((1, 3), (2, 1), (5, 4))) == (Zxid(2, 1), 4)
    assert common_point(mine, ((1, 2),)) == (Zxid(1, 2), 2)
    assert common_point(mine, ()) == (Zxid(), 0)
    assert common_point(mine, ((1, 3), (4, 1))) == (Zxid(1, 3), 3)


@st.composite
def two_histories(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
    """Two histories as Zab makes them: a shared prefix, then each its own later epochs."""
    shared_epochs = draw(st.integers(0, 3))
    shared = [(e, draw(st.integers(1, 4))) for e in range(1, shared_epochs + 1)]
    # The last shared epoch may continue further in one of them.
    a, b = list(shared), list(shared)
    if shared and draw(st.booleans()):
        e, k = shared[-1]
        a[-1] = (e, k + draw(st.integers(0, 3)))
    epochs_a = draw(st.sets(st.integers(10, 20), max_size=2))
    epochs_b = draw(st.sets(st.integers(21, 30), max_size=2))
    a += [(e, draw(st.integers(1, 3))) for e in sorted(epochs_a)]
    b += [(e, draw(st.integers(1, 3))) for e in sorted(epochs_b)]
    return a, b, sum(k for _, k in shared)


@given(two_histories())
def test_common_point_is_the_length_of_the_shared_prefix(case: tuple) -> None:  # type: ignore[type-arg]
    a_segments, b_segments, shared = case
    a, b = history(*a_segments), history(*b_segments)
    zxid, position = common_point(a.segments(), b.segments())
    assert position == shared
    assert common_point(b.segments(), a.segments()) == (zxid, position)
    assert [t.zxid for t in a.after(0, position)] == [t.zxid for t in b.after(0, position)]
    if position < min(a.length, b.length):
        assert a.at(position + 1).zxid != b.at(position + 1).zxid


def test_truncate_and_snapshots_keep_the_segments_right() -> None:
    h = history((1, 3), (2, 2))
    h.truncate(4)
    assert h.segments() == ((1, 3), (2, 1))
    snapshot = Snapshot(Zxid(1, 3), 3, h.segments_upto(3), b"state")
    h.compact(snapshot)
    assert h.base == 3 and h.segments() == ((1, 3), (2, 1))
    assert h.after(3) == [Txn(Zxid(2, 1), b"2.1")]
    with pytest.raises(ValueError, match="below the snapshot"):
        h.truncate(2)
    with pytest.raises(ValueError, match="zxids must grow"):
        h.append(Txn(Zxid(1, 9), b""))
    h.install(Snapshot(Zxid(3, 2), 9, ((1, 3), (3, 2)), b""))
    assert h.length == 9 and h.last_zxid == Zxid(3, 2) and h.txns == []
