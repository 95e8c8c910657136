"""The storage interface a Raft node reads from, and the in-memory implementation (codex 5.3).

The node never writes storage. It *reads* its durable state through :class:`Storage` (at start:
hard state, snapshot, log; later: old entries to send to followers) and hands the caller what
to write in each :class:`~archlab.consensus.raft.Ready`. The caller writes it, durably, before
sending that Ready's messages — :meth:`DurableStorage.persist` is that step, and
:meth:`DurableStorage.compact` is log compaction. Three
implementations are meant to exist: :class:`MemoryStorage` here (tests, and the state a
simulated crash keeps), one over the simulator's disk (where a crash loses what was not
fsynced), and one over real files with fsync (the runtime).

Log layout: the snapshot covers indexes ``1..snapshot.index``; entries follow from
``first_index() == snapshot.index + 1`` to ``last_index()``. ``term(snapshot.index)`` is the
snapshot's term, so the consistency check works right at the compaction point. A fresh storage
holds an empty snapshot at index 0 whose configuration bootstraps the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from archlab.consensus.raft.types import ConfState, Entry, HardState, Snapshot, SnapshotMetadata


class CompactedError(LookupError):
    """The index is below the snapshot: only the snapshot knows about it now."""


class UnavailableError(LookupError):
    """The index is beyond the last entry."""


class Storage(Protocol):
    """What a :class:`~archlab.consensus.raft.RaftNode` reads (all indexes are log indexes)."""

    def hard_state(self) -> HardState: ...

    def snapshot(self) -> Snapshot: ...

    def first_index(self) -> int:
        """The first index held as an entry (the snapshot's index + 1)."""
        ...

    def last_index(self) -> int:
        """The last index held (the snapshot's index when there are no entries)."""
        ...

    def term(self, index: int) -> int:
        """The term at ``index`` in ``[snapshot.index, last_index()]``.

        Raises :class:`CompactedError` below and :class:`UnavailableError` above that range.
        """
        ...

    def entries(self, lo: int, hi: int) -> list[Entry]:
        """Entries ``lo <= index < hi`` with ``first_index() <= lo <= hi <= last_index() + 1``."""
        ...


class DurableStorage(Storage, Protocol):
    """A storage the caller can also write: what a host (simulator, runtime) is generic over."""

    def persist(
        self,
        hard_state: HardState | None,
        entries: Sequence[Entry],
        snapshot: Snapshot | None,
    ) -> None:
        """Make one Ready's snapshot, entries and hard state durable, in one step."""
        ...

    def compact(self, snapshot: Snapshot) -> None:
        """Replace the log up to ``snapshot.index`` (already applied) by ``snapshot``."""
        ...


class MemoryStorage:
    """Durable state kept in memory: survives a simulated crash because the node does not own it.

    Besides the read side, it offers the write side the caller uses: :meth:`persist` (one
    Ready's hard state, entries and snapshot, as one durable step), :meth:`compact` (replace the
    applied prefix of the log by a snapshot) and their parts.
    """

    def __init__(self, conf: ConfState | None = None) -> None:
        """``conf`` bootstraps a cluster member; a node joining later starts with none."""
        self._hard = HardState()
        self._snapshot = Snapshot(SnapshotMetadata(0, 0, conf or ConfState()))
        self._entries: list[Entry] = []
        #: How many :meth:`persist` calls wrote something (a proxy for fsyncs).
        self.syncs = 0

    # -- read side ------------------------------------------------------------------------

    def hard_state(self) -> HardState:
        return self._hard

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def first_index(self) -> int:
        return self._snapshot.index + 1

    def last_index(self) -> int:
        return self._snapshot.index + len(self._entries)

    def term(self, index: int) -> int:
        offset = self._snapshot.index
        if index < offset:
            raise CompactedError(f"index {index} is compacted (snapshot at {offset})")
        if index > self.last_index():
            raise UnavailableError(f"index {index} is beyond the last index {self.last_index()}")
        if index == offset:
            return self._snapshot.term
        return self._entries[index - offset - 1].term

    def entries(self, lo: int, hi: int) -> list[Entry]:
        offset = self._snapshot.index
        if lo <= offset:
            raise CompactedError(f"index {lo} is compacted (snapshot at {offset})")
        if hi > self.last_index() + 1:
            raise UnavailableError(f"index {hi - 1} is beyond the last index {self.last_index()}")
        return self._entries[lo - offset - 1 : hi - offset - 1]

    # -- write side (the caller's) ---------------------------------------------------------

    def persist(
        self,
        hard_state: HardState | None,
        entries: Sequence[Entry],
        snapshot: Snapshot | None,
    ) -> None:
        """Make one Ready's state durable: snapshot, then entries, then hard state."""
        if snapshot is not None:
            self.apply_snapshot(snapshot)
        if entries:
            self.append(entries)
        if hard_state is not None:
            self.set_hard_state(hard_state)
        if snapshot is not None or entries or hard_state is not None:
            self.syncs += 1

    def set_hard_state(self, hard_state: HardState) -> None:
        self._hard = hard_state

    def append(self, entries: Iterable[Entry]) -> None:
        """Append, first truncating any existing entries at or after the first new index."""
        batch = list(entries)
        if not batch:
            return
        first = batch[0].index
        offset = self._snapshot.index
        if first <= offset:
            # Entries already covered by the snapshot are skipped.
            batch = [e for e in batch if e.index > offset]
            if not batch:
                return
            first = batch[0].index
        if first > self.last_index() + 1:
            raise ValueError(f"append at {first} leaves a gap after {self.last_index()}")
        for expected, entry in enumerate(batch, first):
            if entry.index != expected:
                raise ValueError(f"entries are not contiguous at {entry.index}")
        del self._entries[first - offset - 1 :]
        self._entries.extend(batch)

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Install a snapshot received from the leader: it replaces the whole log."""
        if snapshot.index < self._snapshot.index:
            raise ValueError(
                f"snapshot at {snapshot.index} is older than the stored one at "
                f"{self._snapshot.index}"
            )
        self._snapshot = snapshot
        self._entries = []

    def compact(self, snapshot: Snapshot) -> None:
        """Replace entries up to ``snapshot.index`` (which this log holds) by ``snapshot``."""
        index = snapshot.index
        if index <= self._snapshot.index:
            return
        if index > self.last_index():
            raise ValueError(f"cannot compact to {index} beyond the last index {self.last_index()}")
        if self.term(index) != snapshot.term:
            raise ValueError(f"snapshot term {snapshot.term} differs from the log at {index}")
        del self._entries[: index - self._snapshot.index]
        self._snapshot = snapshot

    def copy(self) -> MemoryStorage:
        """An independent copy (tests use it to fork a scenario)."""
        twin = MemoryStorage()
        twin._hard = self._hard
        twin._snapshot = self._snapshot
        twin._entries = list(self._entries)
        twin.syncs = self.syncs
        return twin
