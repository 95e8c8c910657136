"""Chapter 8.2: request lengths and arrivals for the experiments.

The vLLM paper (docs/references.md §8.2) gives the mean prompt and output lengths of its two
traces: ShareGPT 161 / 338 tokens, Alpaca 19 / 58. The shape is not published here, so lengths
are drawn log-normal (σ = 1 in log space: long-tailed, like chat transcripts), with the location
set so the mean matches, then clipped to at least one token and so that prompt + output fits
the context. The sample means are reported beside the targets. Arrivals are Poisson.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

LOG_SIGMA = 1.0


@dataclass(frozen=True)
class Trace:
    name: str
    mean_prompt: float
    mean_output: float


SHAREGPT = Trace("sharegpt", 161.31, 337.99)
ALPACA = Trace("alpaca", 19.31, 58.45)
TRACES = (SHAREGPT, ALPACA)


def _lognormal(rng: random.Random, mean: float) -> float:
    mu = math.log(mean) - LOG_SIGMA**2 / 2
    return rng.lognormvariate(mu, LOG_SIGMA)


def draw_lengths(
    trace: Trace, count: int, max_len: int, rng: random.Random
) -> list[tuple[int, int]]:
    """``count`` (prompt, output) length pairs."""
    pairs = []
    for _ in range(count):
        prompt = max(1, min(max_len - 1, round(_lognormal(rng, trace.mean_prompt))))
        output = max(1, min(max_len - prompt, round(_lognormal(rng, trace.mean_output))))
        pairs.append((prompt, output))
    return pairs


def poisson_arrivals(rate: float, count: int, rng: random.Random) -> list[float]:
    now, times = 0.0, []
    for _ in range(count):
        now += rng.expovariate(rate)
        times.append(now)
    return times
