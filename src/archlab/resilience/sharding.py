"""Plain sharding and shuffle sharding of tenants onto workers (codex 9.2).

- :class:`PlainSharder` cuts the workers into ``n / k`` disjoint shards of ``k``; a tenant's
  hash picks one. A poison tenant takes its whole shard, and with it every tenant there: a
  ``k / n`` share of everyone.
- :class:`ShuffleSharder` gives each tenant its own combination of ``k`` of the ``n`` workers,
  chosen statelessly from a hash of the tenant id (rank the workers by a keyed hash of
  (tenant, worker), keep the top ``k``), optionally one worker per zone. Only tenants whose
  whole combination lies inside the poison tenant's are cut off: about ``1 / C(n, k)``.
- :class:`StatefulShuffleSharder` remembers the shards it handed out and refuses a new one
  that overlaps an existing shard in more than ``max_overlap`` workers (as Route 53's Infima
  library can), so no two tenants share more than that.

Everything is a function of the tenant id and a seed; nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Iterable, Sequence

from archlab.errors import ConfigError
from archlab.randomness import RandomSource


def _hash(seed: int, *parts: str) -> int:
    text = "\x1f".join((str(seed), *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def _check(workers: Sequence[str], size: int) -> None:
    if len(set(workers)) != len(workers):
        raise ConfigError("sharding: worker names must be distinct")
    if not 1 <= size <= len(workers):
        raise ConfigError(f"sharding: shard size must be 1..{len(workers)}, got {size}")


class PlainSharder:
    """``n / k`` disjoint shards of ``k`` workers; a tenant lands on one by its hash."""

    def __init__(self, workers: Sequence[str], size: int, seed: int = 0) -> None:
        _check(workers, size)
        if len(workers) % size:
            raise ConfigError(
                f"sharding: {len(workers)} workers do not split into shards of {size}"
            )
        self.shards = [tuple(workers[i : i + size]) for i in range(0, len(workers), size)]
        self.seed = seed

    def shard(self, tenant: str) -> tuple[str, ...]:
        return self.shards[_hash(self.seed, tenant) % len(self.shards)]


class ShuffleSharder:
    """Each tenant's own ``k`` workers, from a keyed hash of its id (no state to keep)."""

    def __init__(
        self,
        workers: Sequence[str],
        size: int,
        seed: int = 0,
        zones: dict[str, str] | None = None,
    ) -> None:
        _check(workers, size)
        self.workers = list(workers)
        self.size = size
        self.seed = seed
        self.zones = zones
        if zones is not None:
            missing = [w for w in workers if w not in zones]
            if missing:
                raise ConfigError(f"sharding: workers without a zone: {', '.join(missing)}")
            if len(set(zones.values())) < size:
                raise ConfigError(
                    f"sharding: one worker per zone needs ≥ {size} zones, "
                    f"got {len(set(zones.values()))}"
                )

    def shard(self, tenant: str) -> tuple[str, ...]:
        ranked = sorted(self.workers, key=lambda w: _hash(self.seed, tenant, w))
        if self.zones is None:
            return tuple(sorted(ranked[: self.size]))
        chosen: dict[str, str] = {}
        for worker in ranked:  # the best-ranked worker of each zone, best zones first
            chosen.setdefault(self.zones[worker], worker)
            if len(chosen) == self.size:
                break
        return tuple(sorted(chosen.values()))


class StatefulShuffleSharder:
    """Hands out shards of ``k`` that overlap every earlier one in at most ``max_overlap``."""

    def __init__(
        self, workers: Sequence[str], size: int, max_overlap: int, rng: RandomSource
    ) -> None:
        _check(workers, size)
        if not 0 <= max_overlap < size:
            raise ConfigError(f"sharding: max overlap must be 0..{size - 1}, got {max_overlap}")
        self.workers = list(workers)
        self.size = size
        self.max_overlap = max_overlap
        self.rng = rng
        self.assigned: dict[str, tuple[str, ...]] = {}

    def shard(self, tenant: str, tries: int = 1000) -> tuple[str, ...]:
        if tenant in self.assigned:
            return self.assigned[tenant]
        taken = [set(s) for s in self.assigned.values()]
        for _ in range(tries):
            pool = list(self.workers)
            self.rng.shuffle(pool)
            candidate = set(pool[: self.size])
            if all(len(candidate & other) <= self.max_overlap for other in taken):
                shard = tuple(sorted(candidate))
                self.assigned[tenant] = shard
                return shard
        raise ConfigError(
            f"sharding: no shard of {self.size} overlapping the {len(taken)} existing ones in "
            f"≤ {self.max_overlap} workers was found in {tries} tries; add workers or allow more"
        )


def fully_affected(shards: Iterable[tuple[str, ...]], poisoned: Iterable[str]) -> int:
    """How many shards lie wholly inside the poisoned workers (no healthy worker left)."""
    bad = set(poisoned)
    return sum(1 for s in shards if set(s) <= bad)


def expected_fully_affected(workers: int, size: int) -> float:
    """The chance a random other tenant's shard is exactly the poison tenant's: 1 / C(n, k)."""
    return 1 / math.comb(workers, size)


def expected_overlapping(workers: int, size: int) -> float:
    """The chance a random other shard shares at least one worker: 1 − C(n−k, k) / C(n, k)."""
    return 1 - math.comb(workers - size, size) / math.comb(workers, size)


def max_pairwise_overlap(shards: Iterable[tuple[str, ...]]) -> int:
    sets = [set(s) for s in shards]
    return max((len(a & b) for a, b in itertools.combinations(sets, 2)), default=0)
