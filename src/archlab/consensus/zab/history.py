"""A node's history: the snapshot it starts from and the transactions after it (codex 5.3).

Every history is a sequence of *segments*, one per epoch, in increasing epoch order, each holding
⟨e, 1⟩ ... ⟨e, k⟩ with no gap: a node's history is the initial history its leader installed
(a history of the same shape) followed by that leader's proposals, accepted strictly in order.
Hence the Raft-like *matching* property Zab's synchronization relies on: two histories that hold
the same zxid hold the same transactions up to it. So a history is summed up by its segments,
and the longest common prefix of two histories ends at the highest zxid both hold:
``max over shared epochs e of ⟨e, min(k1, k2)⟩`` (:func:`common_point`).

Positions are 1-based and count from the start of the history (snapshot included); a
transaction's position is the index the state machine applies it at.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from archlab.consensus.zab.types import ZERO, Segments, Snapshot, Txn, Zxid


def add_to_segments(segments: list[tuple[int, int]], zxid: Zxid) -> None:
    """Extend a segment list by one zxid (which must follow it)."""
    if segments and segments[-1][0] == zxid.epoch:
        segments[-1] = (zxid.epoch, zxid.counter)
    else:
        segments.append((zxid.epoch, zxid.counter))


def common_point(mine: Segments, theirs: Segments) -> tuple[Zxid, int]:
    """The last zxid of the longest common prefix of two histories, and its position.

    The position is counted on ``mine`` (it is the same on ``theirs``, by the matching property).
    """
    theirs_by_epoch = dict(theirs)
    best = ZERO
    position = 0
    before = 0
    for epoch, last in mine:
        other = theirs_by_epoch.get(epoch)
        if other is not None:
            shared = min(last, other)
            best = Zxid(epoch, shared)
            position = before + shared
        before += last
    return best, position


class History:
    """The in-memory copy of a node's history (see the module docstring)."""

    def __init__(self, snapshot: Snapshot, txns: Iterable[Txn] = ()) -> None:
        self.snapshot = snapshot
        self.txns: list[Txn] = []
        self._zxids: list[Zxid] = []
        self._segments: list[tuple[int, int]] = list(snapshot.segments)
        self.extend(txns)

    # -- reading --------------------------------------------------------------------------

    @property
    def base(self) -> int:
        """Position of the snapshot's last transaction (0 without a snapshot)."""
        return self.snapshot.length

    @property
    def length(self) -> int:
        return self.snapshot.length + len(self.txns)

    @property
    def last_zxid(self) -> Zxid:
        return self._zxids[-1] if self._zxids else self.snapshot.zxid

    def segments(self) -> Segments:
        return tuple(self._segments)

    def at(self, position: int) -> Txn:
        """The transaction at ``position`` (above the snapshot)."""
        if position <= self.base or position > self.length:
            raise IndexError(f"position {position} not held ({self.base} < p <= {self.length})")
        return self.txns[position - self.base - 1]

    def zxid_at(self, position: int) -> Zxid:
        if position == self.base:
            return self.snapshot.zxid
        return self.at(position).zxid

    def position_of(self, zxid: Zxid) -> int | None:
        """Where ``zxid`` sits, if this history holds it above the snapshot."""
        if zxid == self.snapshot.zxid:
            return self.base
        i = bisect.bisect_left(self._zxids, zxid)
        if i < len(self._zxids) and self._zxids[i] == zxid:
            return self.base + i + 1
        return None

    def last_position_upto(self, zxid: Zxid) -> int:
        """The position of the last transaction whose zxid is at most ``zxid``."""
        if zxid < self.snapshot.zxid:
            return self.base  # everything below the snapshot is at most the snapshot
        return self.base + bisect.bisect_right(self._zxids, zxid)

    def after(self, position: int, limit: int | None = None) -> list[Txn]:
        """Transactions after ``position`` (which must be at or above the snapshot)."""
        start = position - self.base
        if start < 0:
            raise IndexError(f"position {position} is below the snapshot at {self.base}")
        end = None if limit is None else start + limit
        return self.txns[start:end]

    # -- changing -------------------------------------------------------------------------

    def append(self, txn: Txn) -> None:
        if txn.zxid <= self.last_zxid:
            raise ValueError(f"append {txn.zxid} after {self.last_zxid}: zxids must grow")
        self.txns.append(txn)
        self._zxids.append(txn.zxid)
        add_to_segments(self._segments, txn.zxid)

    def extend(self, txns: Iterable[Txn]) -> None:
        for txn in txns:
            self.append(txn)

    def truncate(self, position: int) -> None:
        """Keep the first ``position`` transactions."""
        if position < self.base:
            raise ValueError(f"cannot truncate to {position}, below the snapshot at {self.base}")
        keep = position - self.base
        del self.txns[keep:]
        del self._zxids[keep:]
        self._segments = list(self.snapshot.segments)
        for zxid in self._zxids:
            add_to_segments(self._segments, zxid)

    def install(self, snapshot: Snapshot) -> None:
        """Replace the whole history by ``snapshot``."""
        self.snapshot = snapshot
        self.txns = []
        self._zxids = []
        self._segments = list(snapshot.segments)

    def compact(self, snapshot: Snapshot) -> None:
        """Drop the transactions ``snapshot`` covers (it must describe this history's prefix)."""
        if snapshot.length <= self.base:
            return
        if snapshot.length > self.length or self.zxid_at(snapshot.length) != snapshot.zxid:
            raise ValueError(f"snapshot at {snapshot.zxid} does not match this history")
        drop = snapshot.length - self.base
        del self.txns[:drop]
        del self._zxids[:drop]
        self.snapshot = snapshot

    def segments_upto(self, position: int) -> Segments:
        """The segments of the first ``position`` transactions (for a snapshot there)."""
        segments = [s for s in self.snapshot.segments]
        if position < self.base:
            raise ValueError(f"position {position} is below the snapshot at {self.base}")
        for zxid in self._zxids[: position - self.base]:
            add_to_segments(segments, zxid)
        return tuple(segments)
