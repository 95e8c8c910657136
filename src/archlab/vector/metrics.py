"""Distance functions of the vector index (codex 8.1), one batched numpy call per use.

Three metrics, as hnswlib and FAISS name them:

* ``l2``: squared Euclidean distance (the square root does not change any ordering);
* ``ip``: inner-product distance ``1 - <x, q>`` (smaller is more similar);
* ``cosine``: vectors are normalised to unit length when they enter the index, after which
  cosine distance is the inner-product distance.

:func:`distances` evaluates one query against many stored rows at once: the HNSW search calls
it once per expanded node with all of that node's unvisited neighbours, so the Python loop
runs per node, not per neighbour.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from archlab.errors import ConfigError

Metric = Literal["l2", "ip", "cosine"]
METRICS: tuple[Metric, ...] = get_args(Metric)

#: The metric as the compiled kernels see it: 0 squared L2, 1 inner-product distance.
KERNEL_CODE: dict[Metric, int] = {"l2": 0, "ip": 1, "cosine": 1}

F32 = npt.NDArray[np.float32]


def check_metric(metric: str) -> Metric:
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    return metric


def prepare(vectors: npt.ArrayLike, metric: Metric) -> F32:
    """Vectors as contiguous float32 rows, unit length for cosine."""
    rows = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if metric == "cosine":
        norms = np.linalg.norm(rows, axis=-1, keepdims=True)
        rows = np.ascontiguousarray(rows / np.where(norms == 0, 1, norms), dtype=np.float32)
    return rows


def distances(query: F32, rows: F32, metric: Metric) -> F32:
    """Distance from ``query`` (d,) to each of ``rows`` (n, d): one vectorised evaluation."""
    if metric == "l2":
        diff = rows - query
        out: F32 = np.einsum("ij,ij->i", diff, diff)
        return out
    similarity: F32 = rows @ query
    return np.float32(1.0) - similarity


def pairwise(queries: F32, rows: F32, metric: Metric) -> F32:
    """Distances from every query (q, d) to every row (n, d), as a (q, n) matrix."""
    if metric == "l2":
        q2 = np.einsum("ij,ij->i", queries, queries)[:, None]
        r2 = np.einsum("ij,ij->i", rows, rows)[None, :]
        out: F32 = q2 + r2 - 2 * (queries @ rows.T)
        return np.maximum(out, 0, out=out)
    similarity: F32 = queries @ rows.T
    return np.float32(1.0) - similarity
