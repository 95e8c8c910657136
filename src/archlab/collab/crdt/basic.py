"""State-based CRDTs: counters, registers and an add-wins set (codex 5.4).

Each type is an immutable value with ``merge``, the least upper bound of two states: it is
commutative, associative and idempotent, so replicas that exchange states in any order, any
number of times, end equal (property-tested). Mutators return the new state *and* the delta
(the smallest state that carries the change), which :mod:`archlab.collab.crdt.delta` ships to
peers instead of the whole state.

* :class:`GCounter`: one non-decreasing count per replica; value = sum; merge = pointwise max.
* :class:`PNCounter`: two G-Counters, increments minus decrements.
* :class:`LWWRegister`: the write with the greatest (timestamp, replica) wins.
* :class:`MVRegister`: concurrent writes are all kept (each tagged with a version vector)
  until a later write that has seen them replaces them.
* :class:`ORSet`: add-wins observed-remove set. Every add is tagged with a fresh dot
  ``(replica, n)``; remove deletes the dots it has observed; the causal context (every dot
  ever seen) lets merge tell "removed there" from "not yet seen there". An add concurrent with
  a remove of the same element survives.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)
Dot = tuple[int, int]


def _vv_max(a: Mapping[int, int], b: Mapping[int, int]) -> dict[int, int]:
    out = dict(a)
    for k, v in b.items():
        if v > out.get(k, 0):
            out[k] = v
    return out


def dominates(a: Mapping[int, int], b: Mapping[int, int]) -> bool:
    """Version vector ``a`` has seen everything ``b`` has."""
    return all(a.get(k, 0) >= v for k, v in b.items())


@dataclass(frozen=True)
class GCounter:
    counts: Mapping[int, int] = field(default_factory=dict)

    @property
    def value(self) -> int:
        return sum(self.counts.values())

    def increment(self, replica: int, amount: int = 1) -> tuple[GCounter, GCounter]:
        if amount < 0:
            raise ValueError("a G-Counter only grows; use a PN-Counter to decrement")
        delta = GCounter({replica: self.counts.get(replica, 0) + amount})
        return self.merge(delta), delta

    def merge(self, other: GCounter) -> GCounter:
        return GCounter(_vv_max(self.counts, other.counts))


@dataclass(frozen=True)
class PNCounter:
    plus: GCounter = field(default_factory=GCounter)
    minus: GCounter = field(default_factory=GCounter)

    @property
    def value(self) -> int:
        return self.plus.value - self.minus.value

    def increment(self, replica: int, amount: int = 1) -> tuple[PNCounter, PNCounter]:
        if amount >= 0:
            _, d = self.plus.increment(replica, amount)
            delta = PNCounter(plus=d)
        else:
            _, d = self.minus.increment(replica, -amount)
            delta = PNCounter(minus=d)
        return self.merge(delta), delta

    def merge(self, other: PNCounter) -> PNCounter:
        return PNCounter(self.plus.merge(other.plus), self.minus.merge(other.minus))


@dataclass(frozen=True)
class LWWRegister(Generic[T]):
    """``stamp`` = (timestamp, replica): ties between equal clocks break by replica id."""

    value: T | None = None
    stamp: tuple[float, int] = (float("-inf"), -1)

    def assign(
        self, value: T, timestamp: float, replica: int
    ) -> tuple[LWWRegister[T], LWWRegister[T]]:
        delta = LWWRegister(value, (timestamp, replica))
        return self.merge(delta), delta

    def merge(self, other: LWWRegister[T]) -> LWWRegister[T]:
        # Equal stamps (one replica writing twice in one clock tick) fall back to the values'
        # text, so that merge stays commutative.
        mine = (self.stamp, repr(self.value))
        theirs = (other.stamp, repr(other.value))
        return other if theirs > mine else self


@dataclass(frozen=True)
class MVRegister(Generic[T]):
    """Values with the version vector of the write that produced each; none dominates another."""

    entries: frozenset[tuple[T, tuple[tuple[int, int], ...]]] = frozenset()

    @property
    def values(self) -> set[T]:
        return {v for v, _ in self.entries}

    def assign(self, value: T, replica: int) -> tuple[MVRegister[T], MVRegister[T]]:
        seen: dict[int, int] = {}
        for _, vv in self.entries:
            seen = _vv_max(seen, dict(vv))
        seen[replica] = seen.get(replica, 0) + 1
        delta = MVRegister(frozenset({(value, tuple(sorted(seen.items())))}))
        return self.merge(delta), delta

    def merge(self, other: MVRegister[T]) -> MVRegister[T]:
        both = self.entries | other.entries
        kept = frozenset(
            (v, vv)
            for v, vv in both
            if not any(dict(w) != dict(vv) and dominates(dict(w), dict(vv)) for _, w in both)
        )
        return MVRegister(kept)


@dataclass(frozen=True)
class ORSet(Generic[T]):
    """``entries``: element -> its live dots; ``context``: every dot this state has seen."""

    entries: Mapping[T, frozenset[Dot]] = field(default_factory=dict)
    context: frozenset[Dot] = frozenset()

    @property
    def elements(self) -> set[T]:
        return set(self.entries)

    def __contains__(self, element: object) -> bool:
        return element in self.entries

    def _next_dot(self, replica: int) -> Dot:
        return (replica, 1 + max((n for r, n in self.context if r == replica), default=0))

    def add(self, element: T, replica: int) -> tuple[ORSet[T], ORSet[T]]:
        dot = self._next_dot(replica)
        old = self.entries.get(element, frozenset())
        delta = ORSet({element: frozenset({dot})}, old | {dot})
        return self.merge(delta), delta

    def remove(self, element: T) -> tuple[ORSet[T], ORSet[T]]:
        delta: ORSet[T] = ORSet({}, self.entries.get(element, frozenset()))
        return self.merge(delta), delta

    def merge(self, other: ORSet[T]) -> ORSet[T]:
        merged: dict[T, frozenset[Dot]] = {}
        for element in set(self.entries) | set(other.entries):
            mine = self.entries.get(element, frozenset())
            theirs = other.entries.get(element, frozenset())
            dots = (
                (mine & theirs)
                | frozenset(d for d in mine if d not in other.context)
                | frozenset(d for d in theirs if d not in self.context)
            )
            if dots:
                merged[element] = dots
        return ORSet(merged, self.context | other.context)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ORSet):
            return NotImplemented
        return dict(self.entries) == dict(other.entries) and self.context == other.context

    def __hash__(self) -> int:
        return hash(self.context)
