"""The HNSW index a caller uses: add, search (optionally filtered), delete, save, load.

:class:`HNSWIndex` owns a :class:`~archlab.vector.graph.Graph` and runs the paper's algorithms
with one of two engines over it: ``"python"``, the readable reference in
:mod:`archlab.vector.reference`, or ``"numba"``, the same steps compiled
(:mod:`archlab.vector.kernels`). ``"auto"`` picks numba when it is installed. Deletion always
runs the reference code; it is rare and its cost is one vectorised scan per layer.

Levels are drawn here, in Python, for both engines: ``floor(-ln(U) * mL)`` with ``U`` uniform
on (0, 1] from a seeded PCG64 stream and ``mL = 1/ln(M)`` (the paper's choice), so the same
seed and insertion order give the same levels, hence the same graph. The stream's state is
saved with the index, so inserting after a load continues it.

:class:`SearchResult` and the exact :class:`archlab.vector.exact.BruteForceIndex` share this
interface, so the brute-force index is a drop-in oracle.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from archlab.errors import ConfigError, InputFormatError
from archlab.vector.graph import Graph
from archlab.vector.metrics import F32, KERNEL_CODE, Metric, check_metric, prepare
from archlab.vector.reference import Builder, Params

Engine = Literal["auto", "python", "numba"]
#: An allowed-id filter: a predicate on ids, a collection of ids, or a boolean mask.
Allowed = Callable[[int], bool] | Iterable[int] | npt.NDArray[np.bool_]


@dataclass(frozen=True)
class SearchResult:
    """``ids`` (q, k) int64 and ``distances`` (q, k) float32; -1 / inf where fewer than k."""

    ids: npt.NDArray[np.int64]
    distances: npt.NDArray[np.float32]


def numba_available() -> bool:
    return importlib.util.find_spec("numba") is not None


def check_vectors(vectors: npt.ArrayLike, dim: int | None, what: str = "vectors") -> F32:
    """Rows as a float32 matrix, or a :class:`InputFormatError` naming what is wrong."""
    array = np.asarray(vectors)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise InputFormatError(what, f"expected a 2-d numeric array, got shape {array.shape}")
    if dim is not None and array.shape[1] != dim:
        raise InputFormatError(what, f"dimension {array.shape[1]} does not match the index's {dim}")
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise InputFormatError(what, f"row {int(np.argmax(bad))} has a non-finite value")
    return np.ascontiguousarray(array, dtype=np.float32)


class HNSWIndex:
    """Hierarchical Navigable Small World graph index (Malkov & Yashunin)."""

    def __init__(
        self,
        dim: int,
        metric: str = "l2",
        m: int = 16,
        ef_construction: int = 200,
        *,
        m_max: int | None = None,
        m_max0: int | None = None,
        ml: float | None = None,
        heuristic: bool = True,
        extend_candidates: bool = False,
        keep_pruned: bool = False,
        seed: int = 0,
        engine: Engine = "auto",
        capacity: int = 1024,
    ) -> None:
        if m < 2:
            raise ConfigError(f"M must be at least 2, got {m}")
        if dim < 1 or ef_construction < 1:
            raise ConfigError("dim and ef_construction must be positive")
        self.metric: Metric = check_metric(metric)
        self.params = Params(
            m=m,
            m_max=m if m_max is None else m_max,
            m_max0=2 * m if m_max0 is None else m_max0,
            ef_construction=ef_construction,
            heuristic=heuristic,
            extend_candidates=extend_candidates,
            keep_pruned=keep_pruned,
        )
        self.ml = 1.0 / math.log(m) if ml is None else ml
        self.seed = seed
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.graph = Graph(dim, self.params.m_max, self.params.m_max0, capacity=capacity)
        self.engine = self._pick(engine)
        self.ef = 64
        self.evaluations = 0
        self._visit = np.zeros(0, np.int32)
        self._tag = np.zeros(1, np.int64)

    @staticmethod
    def _pick(engine: str) -> Literal["python", "numba"]:
        if engine == "auto":
            return "numba" if numba_available() else "python"
        if engine == "numba" and not numba_available():
            raise ConfigError("engine 'numba' asked for, but numba is not installed")
        if engine not in {"python", "numba"}:
            raise ConfigError(f"unknown engine {engine!r}; choose auto, python or numba")
        return engine  # type: ignore[return-value]

    # --- sizes -----------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.graph.dim

    def __len__(self) -> int:
        """Live elements (inserted and not deleted)."""
        return self.graph.size - int(self.graph.deleted[: self.graph.size].sum())

    def draw_level(self) -> int:
        return math.floor(-math.log(1.0 - self.rng.random()) * self.ml)

    # --- insertion -------------------------------------------------------------------------
    def add(
        self, vectors: npt.ArrayLike, progress: Callable[[int], None] | None = None
    ) -> npt.NDArray[np.int64]:
        """Insert rows one by one (algorithm 1); returns their ids (consecutive)."""
        rows = prepare(check_vectors(vectors, self.dim), self.metric)
        g = self.graph
        g.reserve(len(rows), 0)
        first = g.size
        builder = Builder(g, self.metric, self.params) if self.engine == "python" else None
        for i, row in enumerate(rows):
            node = g.append(row, self.draw_level())
            if builder is not None:
                builder.insert(node)
            else:
                self._insert_compiled(node)
            if progress is not None and (i + 1) % 256 == 0:
                progress(256)
        if builder is not None:
            self.evaluations += builder.evaluations
        if progress is not None and len(rows) % 256:
            progress(len(rows) % 256)
        return np.arange(first, g.size, dtype=np.int64)

    def _kernel_state(self) -> tuple[Any, ...]:
        g = self.graph
        if len(self._visit) < g.capacity:
            self._visit = np.zeros(g.capacity, np.int32)
            self._tag[0] = 0
        a = g.arrays
        return (
            a["vectors"],
            a["links0"],
            a["count0"],
            a["upper_base"],
            a["links_up"],
            a["count_up"],
        )

    def _insert_compiled(self, node: int) -> None:
        from archlab.vector import kernels

        g, p = self.graph, self.params
        level = int(g.levels[node])
        if g.entry < 0:
            g.entry, g.max_level = node, level
            return
        stats = np.zeros(1, np.int64)
        kernels.insert(
            self._kernel_state(), g.levels, node, g.entry, g.max_level, p.m, p.m_max, p.m_max0,
            p.ef_construction, p.heuristic, p.extend_candidates, p.keep_pruned,
            KERNEL_CODE[self.metric], self._visit, self._tag, stats,
        )  # fmt: skip
        self.evaluations += int(stats[0])
        if level > g.max_level:
            g.entry, g.max_level = node, level

    # --- search ----------------------------------------------------------------------------
    def excluded_mask(self, allowed: Allowed | None) -> npt.NDArray[np.bool_] | None:
        """Deleted elements plus those the filter leaves out; None when nothing is excluded."""
        g = self.graph
        deleted = g.deleted[: g.size]
        if allowed is None:
            return deleted.copy() if deleted.any() else None
        if isinstance(allowed, np.ndarray) and allowed.dtype == np.bool_:
            if allowed.shape != (g.size,):
                raise ConfigError(f"filter mask has shape {allowed.shape}, index has {g.size} ids")
            keep = allowed
        elif callable(allowed):
            keep = np.fromiter((bool(allowed(i)) for i in range(g.size)), np.bool_, g.size)
        else:
            keep = np.zeros(g.size, np.bool_)
            ids = np.fromiter((int(i) for i in allowed), np.int64)
            keep[ids[(ids >= 0) & (ids < g.size)]] = True
        return deleted | ~keep

    def search(
        self,
        queries: npt.ArrayLike,
        k: int = 10,
        ef: int | None = None,
        allowed: Allowed | None = None,
    ) -> SearchResult:
        """The ``k`` approximate nearest live (and allowed) elements of every query row."""
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        rows = prepare(check_vectors(queries, self.dim, "queries"), self.metric)
        ef = self.ef if ef is None else ef
        excluded = self.excluded_mask(allowed)
        g = self.graph
        if self.engine == "numba" and g.entry >= 0:
            from archlab.vector import kernels

            stats = np.zeros(1, np.int64)
            ids, dists = kernels.knn_search(
                self._kernel_state(), rows, k, ef, g.entry, g.max_level,
                np.zeros(0, np.bool_) if excluded is None else excluded,
                KERNEL_CODE[self.metric], self._visit, self._tag, stats,
            )  # fmt: skip
            self.evaluations += int(stats[0])
            return SearchResult(ids, dists)
        out_ids = np.full((len(rows), k), -1, np.int64)
        out_d = np.full((len(rows), k), np.inf, np.float32)
        builder = Builder(g, self.metric, self.params)
        for q, row in enumerate(rows):
            found = builder.knn_search(row, k, ef, excluded)
            out_ids[q, : len(found)] = [n for _, n in found]
            out_d[q, : len(found)] = [d for d, _ in found]
        self.evaluations += builder.evaluations
        return SearchResult(out_ids, out_d)

    # --- deletion --------------------------------------------------------------------------
    def delete(self, ids: Iterable[int]) -> None:
        """Mark elements deleted and repair the links that pointed at them."""
        builder = Builder(self.graph, self.metric, self.params)
        for node in ids:
            if not 0 <= int(node) < self.graph.size:
                raise ConfigError(
                    f"cannot delete id {node}: the index has ids 0..{self.graph.size - 1}"
                )
            builder.delete(int(node))
        self.evaluations += builder.evaluations

    # --- persistence -----------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        from archlab.vector.persist import save_index

        save_index(self, Path(path))

    @classmethod
    def load(cls, path: str | Path, engine: Engine = "auto") -> HNSWIndex:
        from archlab.vector.persist import load_index

        return load_index(Path(path), engine)

    def memory_bytes(self) -> dict[str, int]:
        """Bytes in use: raw vectors, link ids per layer, per-element bookkeeping."""
        g = self.graph
        out = {"vectors": g.size * g.dim * 4, **g.link_bytes()}
        out["bookkeeping"] = g.size * (4 + 4 + 8 + 1) + g.rows * (4 + 4)
        return out
