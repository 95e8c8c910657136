"""Chapter 8.2: turning logits into tokens: greedy, temperature and nucleus (top-p) sampling.

Randomness is injected (:class:`archlab.randomness.RandomSource`), so a seeded run is
reproducible. :func:`distribution` is also what speculative decoding's rejection rule compares
(draft and target probabilities after the same temperature and top-p).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from archlab.randomness import RandomSource

Probs = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 16
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False


def distribution(logits: npt.NDArray[np.float32], temperature: float, top_p: float) -> Probs:
    """The probabilities sampling draws from; one-hot on the argmax when temperature is 0."""
    row = np.asarray(logits, dtype=np.float64).reshape(-1)
    if temperature <= 0.0:
        probs = np.zeros_like(row)
        probs[int(row.argmax())] = 1.0
        return probs
    scaled = row / temperature
    scaled -= scaled.max()
    probs = np.exp(scaled)
    probs /= probs.sum()
    if top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        cumulative = np.cumsum(probs[order])
        keep = int(np.searchsorted(cumulative, top_p) + 1)  # smallest set reaching top_p
        kept = np.zeros_like(probs)
        kept[order[:keep]] = probs[order[:keep]]
        probs = kept / kept.sum()
    return probs


def draw(probs: Probs, rng: RandomSource) -> int:
    """Inverse-CDF draw of one index."""
    cumulative = np.cumsum(probs)
    index = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    return min(index, len(probs) - 1)


def sample(logits: npt.NDArray[np.float32], params: SamplingParams, rng: RandomSource) -> int:
    if params.temperature <= 0.0:
        return int(np.asarray(logits).reshape(-1).argmax())
    return draw(distribution(logits, params.temperature, params.top_p), rng)
