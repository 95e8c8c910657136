"""Delta-state synchronisation with version vectors (codex 5.4).

A :class:`DeltaReplica` wraps any state-based CRDT (anything with ``merge``). Each local
mutation's delta is stored under a dot ``(replica, n)``; the replica's version vector counts,
per origin replica, the contiguous prefix of deltas it holds. To sync, a peer sends its version
vector and gets back only the deltas it lacks (:meth:`deltas_for`), in place of the whole
state. Deltas received from one peer are kept and forwarded to others, so updates spread
transitively (peer-to-peer, no server). Because every delta is itself a state and merge is a
join, deltas may arrive duplicated or out of order: they are applied at once, and only the
contiguous prefix advances the version vector. :meth:`forget` drops deltas every known peer
already holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

S = TypeVar("S", bound="Lattice")


class Lattice(Protocol):
    def merge(self: S, other: S) -> S: ...


@dataclass(frozen=True)
class DeltaBatch(Generic[S]):
    """Deltas keyed by dot, sorted."""

    deltas: tuple[tuple[tuple[int, int], S], ...]


class DeltaReplica(Generic[S]):
    def __init__(self, replica: int, initial: S) -> None:
        self.replica = replica
        self.state = initial
        self.version: dict[int, int] = {}
        self._log: dict[tuple[int, int], S] = {}

    def mutate(self, delta: S) -> None:
        """Record a local mutation's delta (the state already including it is computed here)."""
        n = self.version.get(self.replica, 0) + 1
        self.version[self.replica] = n
        self._log[(self.replica, n)] = delta
        self.state = self.state.merge(delta)

    def deltas_for(self, peer_version: Mapping[int, int]) -> DeltaBatch[S]:
        """The deltas a peer at ``peer_version`` lacks."""
        return DeltaBatch(
            tuple(
                sorted(
                    (dot, d) for dot, d in self._log.items() if dot[1] > peer_version.get(dot[0], 0)
                )
            )
            if self._log
            else ()
        )

    def receive(self, batch: DeltaBatch[S]) -> None:
        for dot, delta in batch.deltas:
            if dot in self._log or dot[1] <= self.version.get(dot[0], 0):
                continue
            self._log[dot] = delta
            self.state = self.state.merge(delta)
        for origin in {dot[0] for dot, _ in batch.deltas}:
            n = self.version.get(origin, 0)
            while (origin, n + 1) in self._log:
                n += 1
            self.version[origin] = n

    def forget(self, peer_versions: Mapping[int, Mapping[int, int]]) -> int:
        """Drop deltas every peer in ``peer_versions`` already has; returns how many."""
        dropped = [
            dot
            for dot in self._log
            if all(v.get(dot[0], 0) >= dot[1] for v in peer_versions.values())
        ]
        for dot in dropped:
            del self._log[dot]
        return len(dropped)

    @property
    def logged(self) -> int:
        return len(self._log)
