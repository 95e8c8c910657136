"""Exact k-nearest-neighbour search by scanning everything: the oracle HNSW is measured against.

:class:`BruteForceIndex` has the interface of :class:`archlab.vector.index.HNSWIndex` (``add``,
``search`` with ``k`` and a filter, ``delete``, ``evaluations``) and answers exactly: every
query is compared with every live vector, in blocks of queries so the work is a few matrix
products. Its cost per query is ``N`` distance evaluations, the O(N) of codex 8.1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

from archlab.errors import ConfigError
from archlab.vector.index import Allowed, SearchResult, check_vectors
from archlab.vector.metrics import F32, check_metric, pairwise, prepare

#: Queries per matrix product: bounds the (block, N) distance matrix to a few hundred MB.
BLOCK_ELEMENTS = 2**25


class BruteForceIndex:
    """Exact search over contiguous float32 rows."""

    def __init__(self, dim: int, metric: str = "l2") -> None:
        self.metric = check_metric(metric)
        self.dim = dim
        self.vectors: F32 = np.zeros((0, dim), np.float32)
        self.deleted = np.zeros(0, np.bool_)
        self.evaluations = 0

    def __len__(self) -> int:
        return int(len(self.vectors) - self.deleted.sum())

    def add(
        self, vectors: npt.ArrayLike, progress: Callable[[int], None] | None = None
    ) -> npt.NDArray[np.int64]:
        rows = prepare(check_vectors(vectors, self.dim), self.metric)
        first = len(self.vectors)
        self.vectors = np.concatenate([self.vectors, rows])
        self.deleted = np.concatenate([self.deleted, np.zeros(len(rows), np.bool_)])
        if progress is not None:
            progress(len(rows))
        return np.arange(first, len(self.vectors), dtype=np.int64)

    def delete(self, ids: Iterable[int]) -> None:
        for node in ids:
            if not 0 <= int(node) < len(self.vectors):
                raise ConfigError(f"cannot delete id {node}: no such id")
            self.deleted[int(node)] = True

    def _keep(self, allowed: Allowed | None) -> npt.NDArray[np.bool_]:
        keep = ~self.deleted
        if allowed is None:
            return keep
        n = len(self.vectors)
        if isinstance(allowed, np.ndarray) and allowed.dtype == np.bool_:
            return keep & allowed
        if callable(allowed):
            return keep & np.fromiter((bool(allowed(i)) for i in range(n)), np.bool_, n)
        mask = np.zeros(n, np.bool_)
        ids = np.fromiter((int(i) for i in allowed), np.int64)
        mask[ids[(ids >= 0) & (ids < n)]] = True
        return keep & mask

    def search(
        self,
        queries: npt.ArrayLike,
        k: int = 10,
        ef: int | None = None,
        allowed: Allowed | None = None,
    ) -> SearchResult:
        """The exact ``k`` nearest live, allowed rows (``ef`` is accepted and ignored)."""
        del ef
        rows = prepare(check_vectors(queries, self.dim, "queries"), self.metric)
        candidates = np.flatnonzero(self._keep(allowed))
        base = self.vectors[candidates]
        out_ids = np.full((len(rows), k), -1, np.int64)
        out_d = np.full((len(rows), k), np.inf, np.float32)
        take = min(k, len(candidates))
        block = max(1, BLOCK_ELEMENTS // max(1, len(candidates)))
        for start in range(0, len(rows), block):
            dist = pairwise(rows[start : start + block], base, self.metric)
            self.evaluations += dist.size
            if take == 0:
                continue
            part = np.argpartition(dist, take - 1, axis=1)[:, :take]
            part_d = np.take_along_axis(dist, part, axis=1)
            order = np.lexsort((candidates[part], part_d), axis=1)
            out_ids[start : start + len(dist), :take] = candidates[
                np.take_along_axis(part, order, 1)
            ]
            out_d[start : start + len(dist), :take] = np.take_along_axis(part_d, order, axis=1)
        return SearchResult(out_ids, out_d)
