"""Where transaction timestamps come from: a logical counter, or TrueTime with commit wait.

Two-phase commit (:mod:`archlab.txn.twopc`) stamps every transaction: each participant picks
a *prepare* timestamp above every timestamp it has used (its *floor*), and the coordinator
picks the *commit* timestamp, at least every prepare timestamp. Participants apply the
writes as versions at the commit timestamp, so versions are ordered as the locks ordered the
transactions. What differs is how the timestamps relate to real time:

:class:`LogicalTimestamps`
    Lamport-style: one above the floor. Enough for strict two-phase locking; useless for a
    read at a time (a counter says nothing about when).
:class:`TrueTimeTimestamps` (codex 5.2, Spanner §4.1.2)
    Prepare and commit timestamps are at least ``TT.now().latest`` when chosen, and, with
    ``commit_wait``, the coordinator releases a commit (acknowledges the client, lets the
    participants apply it) only once ``TT.after(commit_ts)``. Then a transaction that starts
    after another was acknowledged gets a larger timestamp, and a snapshot read at
    ``TT.now().latest`` sees every transaction acknowledged before it began.

Timestamps are seconds; the smallest step is :data:`TICK` (a microsecond, as in Spanner).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from archlab.txn.truetime import TrueTime

TICK = 1e-6


class Timestamps(Protocol):
    """The timestamp policy a coordinator and its participants share."""

    def ready(self, local: float) -> bool:
        """Whether timestamps can be issued now (TrueTime: synchronised)."""
        ...

    def prepare(self, local: float, floor: float) -> float:
        """A participant's prepare timestamp: above ``floor``."""
        ...

    def commit(self, local: float, prepared: Sequence[float], floor: float) -> float:
        """The commit timestamp: at least every prepare timestamp, above ``floor``."""
        ...

    def release_wait(self, local: float, timestamp: float) -> float:
        """Local seconds to wait before a commit at ``timestamp`` may be released (0: now)."""
        ...

    def read(self, local: float) -> float:
        """The timestamp of a read-only transaction starting now."""
        ...

    def uncertainty(self, local: float) -> float:
        """How far off the time may be now (TrueTime's epsilon; 0 for a counter)."""
        ...


class LogicalTimestamps:
    """A counter above every timestamp seen (see the module docstring)."""

    def ready(self, local: float) -> bool:
        return True

    def prepare(self, local: float, floor: float) -> float:
        return floor + 1.0

    def commit(self, local: float, prepared: Sequence[float], floor: float) -> float:
        return max([floor + 1.0, *prepared])

    def release_wait(self, local: float, timestamp: float) -> float:
        return 0.0

    def read(self, local: float) -> float:
        raise ValueError("logical timestamps cannot date a read")

    def uncertainty(self, local: float) -> float:
        return 0.0


class TrueTimeTimestamps:
    """Timestamps from a node's :class:`~archlab.txn.truetime.TrueTime` (module docstring)."""

    def __init__(self, truetime: TrueTime, commit_wait: bool = True) -> None:
        self.truetime = truetime
        self.commit_wait = commit_wait

    def ready(self, local: float) -> bool:
        return self.truetime.synced

    def prepare(self, local: float, floor: float) -> float:
        return max(floor + TICK, self.truetime.now(local).latest)

    def commit(self, local: float, prepared: Sequence[float], floor: float) -> float:
        return max([floor + TICK, self.truetime.now(local).latest, *prepared])

    def release_wait(self, local: float, timestamp: float) -> float:
        if not self.commit_wait:
            return 0.0
        return self.truetime.wait_until_after(timestamp, local)

    def read(self, local: float) -> float:
        return self.truetime.now(local).latest

    def uncertainty(self, local: float) -> float:
        return self.truetime.epsilon(local)
