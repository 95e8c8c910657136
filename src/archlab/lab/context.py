"""What an experiment receives: its profile and parameters, a seed, progress, scratch space.

Randomness comes only from :meth:`Context.rng`, so an experiment is a function of its seed and
parameters (timings aside). Named streams keep components independent: adding a random draw
in one place does not shift the numbers drawn in another.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archlab.lab.progress import NullProgress, Progress


def derive_seed(seed: int, stream: str) -> int:
    """A 64-bit seed for ``stream``, derived deterministically from ``seed``."""
    digest = hashlib.blake2b(f"{seed}:{stream}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass
class Context:
    """The environment of one experiment run."""

    experiment_id: str
    profile: str
    params: Mapping[str, Any]
    seed: int
    scratch: Path
    progress: Progress = field(default_factory=NullProgress)

    def rng(self, stream: str = "main") -> random.Random:
        """An independent, reproducible random stream named ``stream``."""
        return random.Random(derive_seed(self.seed, stream))

    @property
    def quick(self) -> bool:
        return self.profile == "quick"
