"""The randomness a protocol core draws from: an injected, seeded source (docs/architecture.md).

Protocol cores (Raft, Multi-Paxos, Zab, 2PC, sagas ...) never import :mod:`random`: their host
hands them a seeded :class:`random.Random` (the simulator derives one per node from the run's
seed), so a run is a function of its seed. :class:`RandomSource` names the part of
:class:`random.Random` they use, and lets a reader see at the import line that a module takes
its randomness from outside.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import MutableSequence, Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")


def seeded(seed: int) -> random.Random:
    """A fresh generator for ``seed``: where a host (a simulation, a trace generator) makes the
    randomness it hands to sans-IO code, so that code itself never imports :mod:`random`."""
    return random.Random(seed)


def derive_seed(seed: int, stream: str) -> int:
    """A 64-bit seed for ``stream``, derived deterministically from ``seed``.

    Named streams keep components independent: a new random draw in one place does not shift
    the numbers drawn in another. The lab's contexts and the simulator both derive from here.
    """
    digest = hashlib.blake2b(f"{seed}:{stream}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class RandomSource(Protocol):
    """What protocol cores draw from an injected :class:`random.Random`."""

    def random(self) -> float: ...

    def uniform(self, a: float, b: float) -> float: ...

    def randint(self, a: int, b: int) -> int: ...

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int: ...

    def getrandbits(self, k: int) -> int: ...

    def expovariate(self, lambd: float) -> float: ...

    def sample(self, population: Sequence[T], k: int) -> list[T]: ...

    def choice(self, seq: Sequence[T]) -> T: ...

    def shuffle(self, x: MutableSequence[T]) -> None: ...
