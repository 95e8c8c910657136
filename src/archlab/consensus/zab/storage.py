"""What a Zab node keeps durably, and the in-memory implementation (codex 5.3).

The Zab paper's persistent state: the *accepted epoch* (a follower never acknowledges a
NEWEPOCH below it, nor accepts proposals of an older leader after it), the *current epoch* (the
epoch of the last NEWLEADER it acknowledged) and the *history*. All three reach the disk before
the acknowledgement that reports them leaves (the order of :mod:`archlab.consensus.zab.ready`).
A history is a snapshot followed by transactions; synchronization may truncate its tail, and
:meth:`ZabStorage.compact` replaces a delivered prefix by a snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from archlab.consensus.zab.types import HardState, Snapshot, Txn


class ZabStorage(Protocol):
    def hard_state(self) -> HardState: ...

    def snapshot(self) -> Snapshot: ...

    def txns(self) -> list[Txn]:
        """The transactions after the snapshot, in order."""
        ...

    @property
    def length(self) -> int:
        """Transactions held, the snapshot's included."""
        ...

    def persist(
        self,
        hard_state: HardState | None,
        snapshot: Snapshot | None,
        history_from: int | None,
        txns: Sequence[Txn],
    ) -> None:
        """Make one Ready durable: install ``snapshot`` (replacing the whole history), keep the
        first ``history_from - 1`` transactions and append ``txns``, then the hard state."""
        ...

    def compact(self, snapshot: Snapshot) -> None:
        """Replace the first ``snapshot.length`` transactions (delivered) by ``snapshot``."""
        ...


class MemoryZabStorage:
    """Durable state kept in memory (tests; the simulator's lives in :mod:`.sim`)."""

    def __init__(self) -> None:
        self._hard = HardState()
        self._snapshot = Snapshot()
        self._txns: list[Txn] = []
        self.syncs = 0

    def hard_state(self) -> HardState:
        return self._hard

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def txns(self) -> list[Txn]:
        return list(self._txns)

    @property
    def length(self) -> int:
        return self._snapshot.length + len(self._txns)

    def persist(
        self,
        hard_state: HardState | None,
        snapshot: Snapshot | None,
        history_from: int | None,
        txns: Sequence[Txn],
    ) -> None:
        if snapshot is not None:
            self._snapshot = snapshot
            self._txns = []
        if history_from is not None:
            keep = history_from - 1 - self._snapshot.length
            if keep < 0 or keep > len(self._txns):
                raise ValueError(f"history_from {history_from} outside the stored history")
            del self._txns[keep:]
            self._txns.extend(txns)
        if hard_state is not None:
            self._hard = hard_state
        if snapshot is not None or history_from is not None or hard_state is not None:
            self.syncs += 1

    def compact(self, snapshot: Snapshot) -> None:
        drop = snapshot.length - self._snapshot.length
        if drop <= 0:
            return
        if drop > len(self._txns) or self._txns[drop - 1].zxid != snapshot.zxid:
            raise ValueError(f"snapshot at {snapshot.zxid} does not match the stored history")
        del self._txns[:drop]
        self._snapshot = snapshot
