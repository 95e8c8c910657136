"""Balancing policies (codex 3.1): which backend takes the next connection or request.

Sans-IO: a policy sees the backend names, the in-flight count per backend and a key (the
client address for L4, a header or path for L7); it never touches a socket or a clock, and
draws randomness from an injected :class:`~archlab.randomness.RandomSource`.

* ``round-robin`` — the next eligible backend in turn.
* ``least-conn`` — the eligible backend with fewest requests in flight.
* ``p2c`` — power of two choices: two eligible backends at random, the less loaded one
  (Mitzenmacher's result: an exponential improvement in the maximum load over one choice).
* ``consistent-hash`` — a hash ring with virtual nodes and *bounded loads* (Mirrokni,
  Thorup and Zadimoghaddam): a key walks clockwise past any backend already carrying more than
  ``ceil(c · average)`` in flight, so a hot key cannot overload one backend.
* ``maglev`` — Google's Maglev lookup table: each backend fills table slots in the order of
  its own permutation, giving near-equal shares and small disruption when the set changes.
* ``hash-mod`` — ``hash(key) mod N``, the naive scheme, kept as the disruption baseline.

:func:`keys_moved` measures the disruption of a backend change: the fraction of keys whose
backend differs before and after.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence

from archlab.errors import ConfigError
from archlab.randomness import RandomSource

POLICIES = ("round-robin", "least-conn", "p2c", "consistent-hash", "maglev", "hash-mod")

Eligible = Callable[[str], bool]


def _always(_: str) -> bool:
    return True


def hash64(data: str, salt: str = "") -> int:
    """A stable 64-bit hash (never Python's per-process ``hash``)."""
    digest = hashlib.blake2b(data.encode(), digest_size=8, person=salt.encode()[:16]).digest()
    return int.from_bytes(digest, "big")


class Policy(ABC):
    """Chooses among ``backends``; ``load`` is each backend's in-flight count."""

    name = ""

    def __init__(self, backends: Sequence[str]) -> None:
        if not backends:
            raise ConfigError("a balancing policy needs at least one backend")
        self.backends: tuple[str, ...] = tuple(dict.fromkeys(backends))

    @abstractmethod
    def choose(self, key: str, load: Mapping[str, int], eligible: Eligible = _always) -> str | None:
        """The backend for ``key`` among those ``eligible``; None when none is."""


class RoundRobin(Policy):
    name = "round-robin"

    def __init__(self, backends: Sequence[str]) -> None:
        super().__init__(backends)
        self._next = 0

    def choose(self, key: str, load: Mapping[str, int], eligible: Eligible = _always) -> str | None:
        n = len(self.backends)
        for step in range(n):
            candidate = self.backends[(self._next + step) % n]
            if eligible(candidate):
                self._next = (self._next + step + 1) % n
                return candidate
        return None


class LeastConnections(Policy):
    name = "least-conn"

    def __init__(self, backends: Sequence[str]) -> None:
        super().__init__(backends)
        self._rotate = 0

    def choose(self, key: str, load: Mapping[str, int], eligible: Eligible = _always) -> str | None:
        n = len(self.backends)
        self._rotate = (self._rotate + 1) % n
        best: str | None = None
        for step in range(n):  # rotating the start breaks ties fairly
            candidate = self.backends[(self._rotate + step) % n]
            if eligible(candidate) and (best is None or load.get(candidate, 0) < load.get(best, 0)):
                best = candidate
        return best


class PowerOfTwoChoices(Policy):
    name = "p2c"

    def __init__(self, backends: Sequence[str], rng: RandomSource) -> None:
        super().__init__(backends)
        self._rng = rng

    def choose(self, key: str, load: Mapping[str, int], eligible: Eligible = _always) -> str | None:
        pool = [b for b in self.backends if eligible(b)]
        if len(pool) <= 1:
            return pool[0] if pool else None
        a, b = self._rng.sample(pool, 2)
        return a if load.get(a, 0) <= load.get(b, 0) else b


class HashModulo(Policy):
    name = "hash-mod"

    def choose(self, key: str, load: Mapping[str, int], eligible: Eligible = _always) -> str | None:
        pool = [b for b in self.backends if eligible(b)]
        return pool[hash64(key) % len(pool)] if pool else None


class ConsistentHashRing(Policy):
    """A ring of ``vnodes`` points per backend; bounded loads with factor ``c`` (> 1)."""

    name = "consistent-hash"

    def __init__(self, backends: Sequence[str], vnodes: int = 100, c: float = 1.25) -> None:
        super().__init__(backends)
        if c <= 1:
            raise ConfigError(f"bounded-load factor c={c} must exceed 1")
        self.c = c
        points = sorted(
            (hash64(f"{b}#{i}", "ring"), b) for b in self.backends for i in range(vnodes)
        )
        self._hashes = [h for h, _ in points]
        self._owners = [b for _, b in points]

    def choose(self, key: str, load: Mapping[str, int], eligible: Eligible = _always) -> str | None:
        live = [b for b in self.backends if eligible(b)]
        if not live:
            return None
        total = sum(load.get(b, 0) for b in live)
        cap = math.ceil(self.c * (total + 1) / len(live))
        start = bisect.bisect(self._hashes, hash64(key))
        n = len(self._owners)
        fallback: str | None = None
        for step in range(n):
            owner = self._owners[(start + step) % n]
            if not eligible(owner):
                continue
            if fallback is None:
                fallback = owner
            if load.get(owner, 0) < cap:
                return owner
        return fallback


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))


class Maglev(Policy):
    """Maglev's lookup table of ``table_size`` slots (a prime), rebuilt per eligible set."""

    name = "maglev"

    def __init__(self, backends: Sequence[str], table_size: int = 65537) -> None:
        super().__init__(backends)
        if not _is_prime(table_size) or table_size < len(self.backends):
            raise ConfigError(f"Maglev table size {table_size} must be a prime ≥ the backends")
        self.table_size = table_size
        self._tables: dict[frozenset[str], list[str]] = {}

    def table(self, live: Iterable[str]) -> list[str]:
        members = frozenset(live)
        cached = self._tables.get(members)
        if cached is not None:
            return cached
        names = [b for b in self.backends if b in members]
        m = self.table_size
        offsets = [hash64(b, "offset") % m for b in names]
        skips = [hash64(b, "skip") % (m - 1) + 1 for b in names]
        nexts = [0] * len(names)
        slots: list[str | None] = [None] * m
        filled = 0
        while filled < m:
            for i, name in enumerate(names):
                slot = (offsets[i] + nexts[i] * skips[i]) % m
                while slots[slot] is not None:
                    nexts[i] += 1
                    slot = (offsets[i] + nexts[i] * skips[i]) % m
                slots[slot] = name
                nexts[i] += 1
                filled += 1
                if filled == m:
                    break
        table = [s for s in slots if s is not None]
        if len(self._tables) > 64:
            self._tables.clear()
        self._tables[members] = table
        return table

    def choose(self, key: str, load: Mapping[str, int], eligible: Eligible = _always) -> str | None:
        live = [b for b in self.backends if eligible(b)]
        if not live:
            return None
        return self.table(live)[hash64(key) % self.table_size]


def make_policy(name: str, backends: Sequence[str], rng: RandomSource, **options: float) -> Policy:
    """The policy called ``name`` (one of :data:`POLICIES`) over ``backends``."""
    if name == "round-robin":
        return RoundRobin(backends)
    if name == "least-conn":
        return LeastConnections(backends)
    if name == "p2c":
        return PowerOfTwoChoices(backends, rng)
    if name == "consistent-hash":
        return ConsistentHashRing(backends, c=float(options.get("c", 1.25)))
    if name == "maglev":
        return Maglev(backends, table_size=int(options.get("table_size", 65537)))
    if name == "hash-mod":
        return HashModulo(backends)
    raise ConfigError(f"unknown balancing policy {name!r}; choose one of {', '.join(POLICIES)}")


def keys_moved(before: Policy, after: Policy, keys: Sequence[str]) -> float:
    """The fraction of ``keys`` whose backend differs between two policies (no load bound)."""
    if not keys:
        return 0.0
    moved = sum(1 for k in keys if before.choose(k, {}) != after.choose(k, {}))
    return moved / len(keys)
