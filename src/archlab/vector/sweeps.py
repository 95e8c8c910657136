"""Build-and-measure steps the vector experiments and the benchmark share.

Every search is timed single-threaded, one call over all queries (archlab's compiled kernel,
hnswlib's ``knn_query`` and FAISS's ``search`` all loop over the queries internally), after a
warm-up call, so the compile step and cold caches are not measured. Brute force is timed one
query at a time (a matrix-vector product per query), the way a service answers one request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from archlab.lab.bench import peer_available
from archlab.vector.datasets import Dataset, recall
from archlab.vector.index import HNSWIndex
from archlab.vector.metrics import F32, pairwise, prepare

#: ef values tried, smallest first, when looking for the least ef that reaches a recall.
EF_LADDER = (10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 512,
             640, 768, 1024, 1536, 2048)  # fmt: skip

Search = Callable[[F32, int, int], npt.NDArray[np.int64]]  # (queries, k, ef) -> ids


@dataclass(frozen=True)
class Point:
    ef: int
    recall: float
    evaluations: float  # distance evaluations per query (archlab only; 0 for peers)
    qps: float


def build_archlab(
    data: Dataset, m: int, ef_construction: int, seed: int, **options: Any
) -> tuple[HNSWIndex, float]:
    index = HNSWIndex(data.base.shape[1], data.metric, m, ef_construction, seed=seed, **options)
    started = time.perf_counter()
    index.add(data.base)
    return index, time.perf_counter() - started


def measure(index: HNSWIndex, data: Dataset, truth: npt.NDArray[np.int64], ef: int) -> Point:
    k = truth.shape[1]
    index.search(data.queries[:1], k, ef=ef)  # warm-up (and compile on first use)
    index.evaluations = 0
    started = time.perf_counter()
    found = index.search(data.queries, k, ef=ef).ids
    seconds = time.perf_counter() - started
    n = len(data.queries)
    return Point(ef, recall(found, truth), index.evaluations / n, n / seconds)


def measure_peer(search: Search, data: Dataset, truth: npt.NDArray[np.int64], ef: int) -> Point:
    k = truth.shape[1]
    search(data.queries[:1], k, ef)
    started = time.perf_counter()
    found = search(data.queries, k, ef)
    seconds = time.perf_counter() - started
    return Point(ef, recall(found, truth), 0.0, len(data.queries) / seconds)


def curve(
    index: HNSWIndex,
    data: Dataset,
    truth: npt.NDArray[np.int64],
    stop_at: float,
    ladder: Sequence[int] = EF_LADDER,
) -> list[Point]:
    """Recall and cost along ``ladder``, stopping at the first ef whose recall reaches
    ``stop_at``."""
    points = []
    for ef in ladder:
        points.append(measure(index, data, truth, ef))
        if points[-1].recall >= stop_at:
            break
    return points


def interpolate(points: Sequence[Point], target: float) -> Point | None:
    """The cost at exactly ``target`` recall, linear in recall between the two points around it.

    The result keeps the ef of the first point that reached the target. If the first point
    already exceeds the target, its cost is returned (an upper bound); if none reaches it, None.
    """
    before: Point | None = None
    for point in points:
        if point.recall >= target:
            if before is None or point.recall <= before.recall:
                return point
            w = (target - before.recall) / (point.recall - before.recall)
            evaluations = before.evaluations + w * (point.evaluations - before.evaluations)
            latency = (1 - w) / before.qps + w / point.qps
            return Point(point.ef, target, evaluations, 1 / latency)
        before = point
    return None


def at_recall(
    index: HNSWIndex, data: Dataset, truth: npt.NDArray[np.int64], target: float
) -> Point | None:
    """Distance evaluations and QPS at exactly ``target`` recall (see :func:`interpolate`)."""
    return interpolate(curve(index, data, truth, target), target)


def brute_force_qps(data: Dataset, k: int, queries: int = 50) -> float:
    """Exact search, one query at a time, over the whole base set (best of three passes)."""
    base = prepare(data.base, data.metric)
    rows = prepare(data.queries[:queries], data.metric)
    best = float("inf")
    for _ in range(3):  # the fastest of three passes: the first one warms caches
        started = time.perf_counter()
        for q in rows:
            dist = pairwise(q[None, :], base, data.metric)[0]
            np.argpartition(dist, k)[:k]
        best = min(best, time.perf_counter() - started)
    return len(rows) / best


def hnswlib_index(
    data: Dataset, m: int, ef_construction: int, seed: int
) -> tuple[Any, Search, float] | None:
    """An hnswlib index over the same data (single thread), or None if it is not installed."""
    if not peer_available("hnswlib"):
        return None
    import hnswlib

    space = {"l2": "l2", "ip": "ip", "cosine": "cosine"}[data.metric]
    index = hnswlib.Index(space=space, dim=data.base.shape[1])
    index.init_index(
        max_elements=len(data.base), M=m, ef_construction=ef_construction, random_seed=seed
    )
    index.set_num_threads(1)
    started = time.perf_counter()
    index.add_items(data.base, num_threads=1)
    seconds = time.perf_counter() - started

    def search(queries: F32, k: int, ef: int) -> npt.NDArray[np.int64]:
        index.set_ef(max(ef, k))
        labels, _ = index.knn_query(queries, k=k, num_threads=1)
        return np.asarray(labels, dtype=np.int64)

    return index, search, seconds


def faiss_index(data: Dataset, m: int, ef_construction: int) -> tuple[Any, Search, float] | None:
    """A FAISS IndexHNSWFlat over the same data (single thread), or None if not installed."""
    if not peer_available("faiss"):
        return None
    import faiss

    faiss.omp_set_num_threads(1)
    dim = data.base.shape[1]
    if data.metric == "l2":
        index = faiss.IndexHNSWFlat(dim, m)
    else:  # cosine on unit vectors and inner product both rank by inner product
        index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    base = prepare(data.base, data.metric)
    started = time.perf_counter()
    index.add(base)
    seconds = time.perf_counter() - started

    def search(queries: F32, k: int, ef: int) -> npt.NDArray[np.int64]:
        index.hnsw.efSearch = max(ef, k)
        _, labels = index.search(prepare(queries, data.metric), k)
        return np.asarray(labels, dtype=np.int64)

    return index, search, seconds


def fit_power(ns: Sequence[float], costs: Sequence[float]) -> float:
    """The exponent ``a`` of ``cost ≈ c·N^a`` by least squares on log-log axes."""
    slope, _ = np.polyfit(np.log(ns), np.log(costs), 1)
    return float(slope)


def fit_log(ns: Sequence[float], costs: Sequence[float]) -> tuple[float, float]:
    """``(a, b)`` of ``cost ≈ a + b·ln N`` by least squares."""
    slope, intercept = np.polyfit(np.log(ns), costs, 1)
    return float(intercept), float(slope)
