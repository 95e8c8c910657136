"""What a Multi-Paxos node keeps durably, and the in-memory implementation (codex 5.3).

An acceptor must never forget a promise or an acceptance it has answered for: its *promised*
ballot and every accepted ``(ballot, value)`` per slot reach the disk before the Promise or
Accepted that reports them leaves (the caller does it, in the order of
:mod:`archlab.consensus.paxos.ready`). The learner's knowledge (which slots are chosen) is kept
too, so a restarted node re-applies its chosen prefix without asking anybody; and
:meth:`PaxosStorage.compact` replaces a chosen, applied prefix by a snapshot of the state
machine.

The node reads its storage only when it starts (and the snapshot when a lagging peer needs it);
after that it keeps its own copy and hands the caller what to write in each Ready.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from archlab.consensus.paxos.types import ZERO, Ballot, Slot, Snapshot


class PaxosStorage(Protocol):
    """What a :class:`~archlab.consensus.paxos.PaxosNode` reads, and its caller writes."""

    def promised(self) -> Ballot: ...

    def snapshot(self) -> Snapshot: ...

    def slots(self) -> list[Slot]:
        """Every slot above the snapshot, in index order."""
        ...

    def slot(self, index: int) -> Slot | None:
        """The stored record of slot ``index``, if any (above the snapshot)."""
        ...

    def persist(
        self, promised: Ballot | None, slots: Sequence[Slot], snapshot: Snapshot | None
    ) -> None:
        """Make one Ready durable: the snapshot (dropping the slots it covers), then the slots
        (each replaces the stored record of its index), then the promised ballot."""
        ...

    def compact(self, snapshot: Snapshot) -> None:
        """Replace every slot up to ``snapshot.index`` (chosen and applied) by ``snapshot``."""
        ...


class MemoryPaxosStorage:
    """Durable state kept in memory: it survives a simulated crash because the node does not own
    it (tests; the simulator's disk-backed storage lives in :mod:`archlab.consensus.paxos.sim`)."""

    def __init__(self) -> None:
        self._promised = ZERO
        self._snapshot = Snapshot()
        self._slots: dict[int, Slot] = {}
        #: How many :meth:`persist` calls wrote something (a proxy for fsyncs).
        self.syncs = 0

    def promised(self) -> Ballot:
        return self._promised

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def slots(self) -> list[Slot]:
        return [self._slots[i] for i in sorted(self._slots)]

    def slot(self, index: int) -> Slot | None:
        return self._slots.get(index)

    def persist(
        self, promised: Ballot | None, slots: Sequence[Slot], snapshot: Snapshot | None
    ) -> None:
        if snapshot is not None:
            self._install(snapshot)
        for slot in slots:
            if slot.index > self._snapshot.index:
                self._slots[slot.index] = slot
        if promised is not None:
            if promised < self._promised:
                raise ValueError(f"promised ballot going back from {self._promised} to {promised}")
            self._promised = promised
        if snapshot is not None or slots or promised is not None:
            self.syncs += 1

    def compact(self, snapshot: Snapshot) -> None:
        if snapshot.index <= self._snapshot.index:
            return
        for index in range(self._snapshot.index + 1, snapshot.index + 1):
            slot = self._slots.get(index)
            if slot is None or not slot.chosen:
                raise ValueError(f"cannot compact to {snapshot.index}: slot {index} is not chosen")
        self._install(snapshot)

    def _install(self, snapshot: Snapshot) -> None:
        if snapshot.index < self._snapshot.index:
            raise ValueError(
                f"snapshot at {snapshot.index} is older than the stored one at "
                f"{self._snapshot.index}"
            )
        self._snapshot = snapshot
        self._slots = {i: s for i, s in self._slots.items() if i > snapshot.index}

    def copy(self) -> MemoryPaxosStorage:
        twin = MemoryPaxosStorage()
        twin._promised = self._promised
        twin._snapshot = self._snapshot
        twin._slots = dict(self._slots)
        twin.syncs = self.syncs
        return twin
