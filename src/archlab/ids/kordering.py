"""How time-ordered are IDs made by several generators at once? (codex 6.2, "k-ordered")

:func:`merged_stream` runs one generator per machine, each on its own clock (an offset within
``± skew_ms`` and a rate within ``1 ± drift``), issuing IDs for requests that arrive at random
(a Poisson stream spread over the machines); each ID then travels to one central log with a
random delay. The log's order (arrival order) is the reference, and :func:`disorder` measures
how far the IDs' own sort order departs from it:

- the **inversion fraction**: pairs in the wrong order over all pairs (0 sorted, ~0.5 random),
  counted exactly in O(n log n) by a merge sort vectorised with numpy;
- the **maximum displacement**: how many places an ID sorts away from where it arrived;
- the **time window**: how far, in arrival time, an ID sorts from where it arrived (max and
  99th percentile). A sequence is k-ordered in this sense when the window is small: for
  millisecond IDs it is set by clock skew; for KSUID by its one-second resolution as well.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from archlab.ids.entropy import SeededEntropy
from archlab.ids.generators import make_generator

BASE_MS = 1_700_000_000_000


@dataclass(frozen=True)
class Disorder:
    n: int
    inversion_fraction: float
    max_displacement: int
    max_window_ms: float
    p99_window_ms: float


def count_inversions(permutation: Sequence[int] | np.ndarray) -> int:
    """Pairs ``i < j`` with ``p[i] > p[j]`` of a permutation of ``0..n-1``."""
    a = np.asarray(permutation, dtype=np.int64)
    n = len(a)
    if n < 2:
        return 0
    m = 1 << (n - 1).bit_length()
    a = np.concatenate([a, np.arange(n, m, dtype=np.int64)])  # larger, ascending: no inversions
    total = 0
    size = 1
    while size < m:
        blocks = a.reshape(-1, 2, size)
        rows = blocks.shape[0]
        offset = (np.arange(rows, dtype=np.int64) * m)[:, None]
        left = (blocks[:, 0, :] + offset).ravel()  # sorted rows, shifted apart: sorted overall
        right = (blocks[:, 1, :] + offset).ravel()
        not_greater = np.searchsorted(left, right, side="right")
        row_end = np.repeat((np.arange(1, rows + 1, dtype=np.int64)) * size, size)
        total += int((row_end - not_greater).sum())
        a = np.sort(blocks.reshape(rows, 2 * size), axis=1).ravel()
        size *= 2
    return total


def disorder(ids_in_arrival_order: Sequence[int], arrival_ms: Sequence[float]) -> Disorder:
    """How the IDs' sort order departs from their arrival order (module doc)."""
    n = len(ids_in_arrival_order)
    order = sorted(range(n), key=ids_in_arrival_order.__getitem__)
    rank = np.empty(n, dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(n, dtype=np.int64)
    arrivals = np.asarray(arrival_ms, dtype=np.float64)
    window = np.abs(arrivals - arrivals[rank])
    pairs = n * (n - 1) / 2
    return Disorder(
        n=n,
        inversion_fraction=count_inversions(rank) / pairs if pairs else 0.0,
        max_displacement=int(np.abs(rank - np.arange(n)).max()) if n else 0,
        max_window_ms=float(window.max()) if n else 0.0,
        p99_window_ms=float(np.percentile(window, 99)) if n else 0.0,
    )


def merged_stream(
    kind: str,
    *,
    n: int,
    machines: int,
    rate_per_s: float,
    skew_ms: float,
    drift: float,
    delay_ms: float,
    rng: random.Random,
) -> tuple[list[int], list[float]]:
    """IDs of ``kind`` from ``machines`` generators, in the order they reach the log."""
    offsets = [rng.uniform(-skew_ms, skew_ms) for _ in range(machines)]
    rates = [1 + rng.uniform(-drift, drift) for _ in range(machines)]
    reading = [0]
    generators = [
        make_generator(
            kind,
            clock=lambda: reading[0],
            entropy=SeededEntropy(rng.getrandbits(64)),
            machine=m,
        )
        for m in range(machines)
    ]
    mean_gap = 1000.0 / rate_per_s
    t = 0.0
    issued: list[tuple[float, int]] = []
    for _ in range(n):
        t += rng.expovariate(1.0 / mean_gap)
        m = rng.randrange(machines)
        reading[0] = math.floor(BASE_MS + offsets[m] + rates[m] * t)
        value = generators[m].new()
        key = value.int if hasattr(value, "int") else int(value)
        issued.append((t + rng.uniform(0, delay_ms), key))
    issued.sort()
    return [key for _, key in issued], [when for when, _ in issued]
