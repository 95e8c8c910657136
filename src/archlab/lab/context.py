"""What an experiment receives: its profile and parameters, a seed, progress, scratch space.

Randomness comes only from :meth:`Context.rng`, so an experiment is a function of its seed and
parameters (timings aside). Named streams keep components independent: adding a random draw
in one place does not shift the numbers drawn in another.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archlab.lab.progress import NullProgress, Progress
from archlab.randomness import derive_seed


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
