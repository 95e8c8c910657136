"""The storage of an HNSW index: contiguous numpy arrays that both search engines share.

Layout (close to hnswlib's, so memory can be compared byte for byte):

* ``vectors``: (capacity, d) float32, one row per inserted element, in insertion order;
* ``levels``: each element's top layer, drawn at insertion;
* ``links0`` / ``count0``: layer 0, where every element lives; up to ``m_max0`` neighbour ids
  per row (int32, unused slots -1) and how many are in use;
* ``links_up`` / ``count_up``: layers 1 and up, only for elements that reach them: element
  ``e`` owns rows ``upper_base[e] .. upper_base[e] + levels[e] - 1`` (row ``base + l - 1`` is
  layer ``l``) of ``m_max`` slots each; ``row_owner`` maps a row back to its element;
* ``deleted``: elements removed from results (their links are repaired away on delete).

The arrays grow by doubling. The Python reference (:mod:`archlab.vector.hnsw`) and the
compiled kernels (:mod:`archlab.vector.kernels`) read and write these same arrays, so the two
can be compared link for link.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

I32 = npt.NDArray[np.int32]

#: The arrays a :class:`Graph` stores, in the order the index file writes them.
ARRAYS = (
    "vectors",
    "levels",
    "links0",
    "count0",
    "upper_base",
    "deleted",
    "links_up",
    "count_up",
    "row_owner",
)


@dataclass
class Graph:
    """The layered graph's arrays plus the counters that say how much of them is in use."""

    dim: int
    m_max: int
    m_max0: int
    capacity: int = 1024
    size: int = 0  # elements inserted (deleted ones included)
    rows: int = 0  # upper-layer rows in use
    entry: int = -1  # the entry point: an element on the top layer
    max_level: int = -1
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.arrays:
            cap = max(self.capacity, 1)
            row_cap = max(cap // 4, 16)
            self.arrays = {
                "vectors": np.zeros((cap, self.dim), np.float32),
                "levels": np.zeros(cap, np.int32),
                "links0": np.full((cap, self.m_max0), -1, np.int32),
                "count0": np.zeros(cap, np.int32),
                "upper_base": np.full(cap, -1, np.int64),
                "deleted": np.zeros(cap, np.bool_),
                "links_up": np.full((row_cap, self.m_max), -1, np.int32),
                "count_up": np.zeros(row_cap, np.int32),
                "row_owner": np.full(row_cap, -1, np.int32),
            }
        self.capacity = len(self.arrays["vectors"])

    # --- the arrays by name (typed views for readers) ---------------------------------------
    @property
    def vectors(self) -> npt.NDArray[np.float32]:
        return self.arrays["vectors"]

    @property
    def levels(self) -> I32:
        return self.arrays["levels"]

    @property
    def deleted(self) -> npt.NDArray[np.bool_]:
        return self.arrays["deleted"]

    # --- growth ----------------------------------------------------------------------------
    def reserve(self, elements: int, rows: int) -> None:
        """Make room for ``elements`` more elements and ``rows`` more upper-layer rows."""
        need = self.size + elements
        if need > self.capacity:
            cap = max(need, 2 * self.capacity)
            for name in ("vectors", "levels", "links0", "count0", "upper_base", "deleted"):
                self.arrays[name] = _grown(self.arrays[name], cap, name)
            self.capacity = cap
        need_rows = self.rows + rows
        if need_rows > len(self.arrays["count_up"]):
            cap = max(need_rows, 2 * len(self.arrays["count_up"]))
            for name in ("links_up", "count_up", "row_owner"):
                self.arrays[name] = _grown(self.arrays[name], cap, name)

    def append(self, vector: npt.NDArray[np.float32], level: int) -> int:
        """Store a new element (no links yet) and give it rows for layers 1..level."""
        self.reserve(1, level)
        node = self.size
        self.arrays["vectors"][node] = vector
        self.arrays["levels"][node] = level
        if level > 0:
            self.arrays["upper_base"][node] = self.rows
            self.arrays["row_owner"][self.rows : self.rows + level] = node
            self.rows += level
        self.size += 1
        return node

    # --- links -----------------------------------------------------------------------------
    def _slot(self, node: int, layer: int) -> tuple[I32, I32, int]:
        """The links array, counts array and row of ``node`` at ``layer``."""
        if layer == 0:
            return self.arrays["links0"], self.arrays["count0"], node
        row = int(self.arrays["upper_base"][node]) + layer - 1
        return self.arrays["links_up"], self.arrays["count_up"], row

    def neighbours(self, node: int, layer: int) -> I32:
        links, counts, row = self._slot(node, layer)
        return links[row, : counts[row]]

    def set_neighbours(self, node: int, layer: int, ids: list[int]) -> None:
        links, counts, row = self._slot(node, layer)
        links[row, : len(ids)] = ids
        links[row, len(ids) :] = -1
        counts[row] = len(ids)

    def add_link(self, node: int, layer: int, other: int) -> None:
        links, counts, row = self._slot(node, layer)
        links[row, counts[row]] = other
        counts[row] += 1

    def in_neighbours(self, node: int, layer: int) -> list[int]:
        """Every element whose layer-``layer`` list contains ``node`` (a vectorised scan)."""
        if layer == 0:
            hit = (self.arrays["links0"][: self.size] == node).any(axis=1)
            return [int(i) for i in np.flatnonzero(hit)]
        rows = np.flatnonzero((self.arrays["links_up"][: self.rows] == node).any(axis=1))
        owners = self.arrays["row_owner"][rows]
        found = rows - self.arrays["upper_base"][owners] + 1 == layer
        return [int(o) for o in owners[found]]

    def link_bytes(self) -> dict[str, int]:
        """Bytes of link storage in use per layer (ids only, 4 bytes each) and allocated."""
        out = {"layer0_allocated": self.size * self.m_max0 * 4}
        out["layer0_used"] = int(self.arrays["count0"][: self.size].sum()) * 4
        levels = self.arrays["levels"][: self.size]
        out["upper_allocated"] = int(levels.sum()) * self.m_max * 4
        out["upper_used"] = int(self.arrays["count_up"][: self.rows].sum()) * 4
        return out


def _grown(array: np.ndarray, length: int, name: str) -> np.ndarray:
    fill = -1 if name in {"links0", "upper_base", "links_up", "row_owner"} else 0
    out = np.full((length, *array.shape[1:]), fill, dtype=array.dtype)
    out[: len(array)] = array
    return out
