"""A consistent-hash ring built from SWIM membership (codex 10.5, Ringpop's ring).

Each member owns ``points`` replica points on a 32-bit ring (murmur3 of ``"<member><i>"``,
100 points per member by default, as Ringpop does with FarmHash); a key belongs to the member
whose point is the first at or after the key's hash, wrapping around. Adding a member moves
only the keys that fall on its new points: about 1/(n+1) of them.

:attr:`HashRing.checksum` fingerprints the member list, so two nodes can tell cheaply whether
they would route a key the same way: Ringpop refuses a forwarded request whose sender's
checksum differs from the receiver's, rather than handle a key on the wrong node.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

import mmh3

DEFAULT_POINTS = 100


def hash32(text: str) -> int:
    """Unsigned 32-bit murmur3 of ``text`` (UTF-8)."""
    return int(mmh3.hash(text, signed=False))


class HashRing:
    """An immutable ring over ``members`` (see the module docstring)."""

    def __init__(self, members: Iterable[str], points: int = DEFAULT_POINTS) -> None:
        if points < 1:
            raise ValueError(f"points per member must be at least 1, not {points}")
        self.members = tuple(sorted(set(members)))
        self.points = points
        ring = sorted((hash32(f"{m}{i}"), m) for m in self.members for i in range(points))
        self._hashes = [h for h, _ in ring]
        self._owners = [m for _, m in ring]
        self.checksum = hash32(";".join(self.members))

    def lookup(self, key: str) -> str:
        """The member that owns ``key``."""
        if not self._owners:
            raise LookupError("the ring has no members")
        index = bisect.bisect_left(self._hashes, hash32(key))
        return self._owners[index % len(self._owners)]

    def __len__(self) -> int:
        return len(self.members)


def moved_fraction(before: HashRing, after: HashRing, keys: list[str]) -> float:
    """The share of ``keys`` whose owner differs between two rings."""
    if not keys:
        return 0.0
    return sum(1 for k in keys if before.lookup(k) != after.lookup(k)) / len(keys)
