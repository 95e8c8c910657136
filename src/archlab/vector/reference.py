"""HNSW's five algorithms in plain Python over numpy arrays: the readable reference (codex 8.1).

This follows Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search using
Hierarchical Navigable Small World graphs" (arXiv 1603.09320), algorithm by algorithm:

1. :meth:`Builder.insert` (INSERT): descend greedily from the entry point through the layers
   above the new element's level, then on each of its layers search with ``ef_construction``,
   pick ``M`` neighbours, link both ways and shrink any neighbour list that overflows;
2. :meth:`Builder.search_layer` (SEARCH-LAYER): best-first search bounded by ``ef`` results;
3. :meth:`Builder.select_simple` (SELECT-NEIGHBORS-SIMPLE): the ``M`` closest candidates;
4. :meth:`Builder.select_heuristic` (SELECT-NEIGHBORS-HEURISTIC): take candidates nearest
   first, keeping one only if it is closer to the base element than to every one kept so far,
   so links spread out in different directions; ``extend_candidates`` adds the candidates'
   own neighbours first and ``keep_pruned`` tops the result up with discarded ones;
5. :meth:`Builder.knn_search` (K-NN-SEARCH): greedy descent, then ``ef`` search on layer 0.

Every expanded node costs one numpy call for all its unvisited neighbours
(:func:`archlab.vector.metrics.distances`). Candidates are ``(distance, id)`` pairs, so ties
break by id and the same seed and insertion order always give the same graph; the compiled
kernels in :mod:`archlab.vector.kernels` follow the same steps in the same order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from archlab.vector.graph import Graph
from archlab.vector.metrics import F32, Metric, distances

Candidates = list[tuple[float, int]]  # (distance, id), nearest first where sorted


@dataclass(frozen=True)
class Params:
    """The construction parameters the paper names."""

    m: int  # M: neighbours picked for a new element on each layer
    m_max: int  # Mmax: most links an element keeps on layers >= 1
    m_max0: int  # Mmax0: most links on layer 0 (the paper's choice: 2M)
    ef_construction: int
    heuristic: bool = True  # algorithm 4 (True) or algorithm 3 (False)
    extend_candidates: bool = False
    keep_pruned: bool = False


class Builder:
    """Runs algorithms 1–5 over a :class:`Graph`, counting distance evaluations."""

    def __init__(self, graph: Graph, metric: Metric, params: Params) -> None:
        self.graph = graph
        self.metric = metric
        self.params = params
        self.evaluations = 0

    def _dist(self, query: F32, ids: npt.NDArray[np.int64] | list[int]) -> list[float]:
        self.evaluations += len(ids)
        rows = self.graph.vectors[np.asarray(ids, dtype=np.int64)]
        return distances(query, rows, self.metric).tolist()  # type: ignore[no-any-return]

    # --- algorithm 2 -----------------------------------------------------------------------
    def search_layer(
        self,
        query: F32,
        entry_points: list[int],
        ef: int,
        layer: int,
        excluded: npt.NDArray[np.bool_] | None = None,
    ) -> Candidates:
        """The ``ef`` nearest elements to ``query`` found on ``layer``, nearest first.

        ``excluded`` elements (deleted, or outside a filter) are walked through but never
        returned; the search then stops only once ``ef`` admissible results are held.
        """
        visited = set(entry_points)
        candidates: Candidates = []  # min-heap on distance
        results: list[tuple[float, int]] = []  # max-heap as (-distance, -id)
        for dist, node in zip(self._dist(query, entry_points), entry_points, strict=True):
            heapq.heappush(candidates, (dist, node))
            if excluded is None or not excluded[node]:
                heapq.heappush(results, (-dist, -node))
        while len(results) > ef:
            heapq.heappop(results)
        while candidates:
            dist_c, current = heapq.heappop(candidates)
            if len(results) >= ef and dist_c > -results[0][0]:
                break  # the nearest candidate is farther than the farthest result
            fresh = [int(e) for e in self.graph.neighbours(current, layer) if e not in visited]
            if not fresh:
                continue
            visited.update(fresh)
            for dist, node in zip(self._dist(query, fresh), fresh, strict=True):
                if len(results) < ef or dist < -results[0][0]:
                    heapq.heappush(candidates, (dist, node))
                    if excluded is None or not excluded[node]:
                        heapq.heappush(results, (-dist, -node))
                        if len(results) > ef:
                            heapq.heappop(results)
        return sorted((-d, -n) for d, n in results)

    # --- algorithms 3 and 4 ----------------------------------------------------------------
    def select(self, base: F32, candidates: Candidates, m: int, layer: int) -> Candidates:
        if self.params.heuristic:
            return self.select_heuristic(base, candidates, m, layer)
        return self.select_simple(candidates, m)

    @staticmethod
    def select_simple(candidates: Candidates, m: int) -> Candidates:
        """Algorithm 3: the ``m`` nearest candidates."""
        return sorted(candidates)[:m]

    def select_heuristic(self, base: F32, candidates: Candidates, m: int, layer: int) -> Candidates:
        """Algorithm 4: keep a candidate only if it is nearer ``base`` than any kept one."""
        work = sorted(candidates)
        if self.params.extend_candidates:
            seen = {node for _, node in work}
            extra: list[int] = []
            for _, node in work:
                for adj in self.graph.neighbours(node, layer):
                    if int(adj) not in seen:
                        seen.add(int(adj))
                        extra.append(int(adj))
            if extra:
                work = sorted(work + list(zip(self._dist(base, extra), extra, strict=True)))
        kept: Candidates = []
        pruned: Candidates = []
        for dist, node in work:
            if len(kept) >= m:
                break
            if kept:
                to_kept = self._dist(self.graph.vectors[node], [k for _, k in kept])
                if min(to_kept) <= dist:  # some kept element is at least as near: prune
                    pruned.append((dist, node))
                    continue
            kept.append((dist, node))
        if self.params.keep_pruned:
            kept.extend(pruned[: m - len(kept)])
        return kept

    # --- algorithm 1 -----------------------------------------------------------------------
    def insert(self, node: int) -> None:
        """Link the already stored element ``node`` (its level is ``graph.levels[node]``)."""
        g, p = self.graph, self.params
        level = int(g.levels[node])
        if g.entry < 0:
            g.entry, g.max_level = node, level
            return
        query = g.vectors[node]
        entry = [g.entry]
        for layer in range(g.max_level, level, -1):
            entry = [self.search_layer(query, entry, 1, layer)[0][1]]
        for layer in range(min(g.max_level, level), -1, -1):
            found = self.search_layer(query, entry, p.ef_construction, layer)
            chosen = self.select(query, found, p.m, layer)
            g.set_neighbours(node, layer, [n for _, n in chosen])
            limit = p.m_max0 if layer == 0 else p.m_max
            for _, other in chosen:
                if len(g.neighbours(other, layer)) < limit:
                    g.add_link(other, layer, node)
                else:
                    self.shrink(other, layer, [*g.neighbours(other, layer).tolist(), node], limit)
            entry = [n for _, n in found]
        if level > g.max_level:
            g.entry, g.max_level = node, level

    def shrink(self, node: int, layer: int, ids: list[int], limit: int) -> None:
        """Replace ``node``'s links on ``layer`` by the selection from ``ids``."""
        base = self.graph.vectors[node]
        candidates = list(zip(self._dist(base, ids), ids, strict=True))
        self.graph.set_neighbours(
            node, layer, [n for _, n in self.select(base, candidates, limit, layer)]
        )

    # --- algorithm 5 -----------------------------------------------------------------------
    def knn_search(
        self, query: F32, k: int, ef: int, excluded: npt.NDArray[np.bool_] | None = None
    ) -> Candidates:
        g = self.graph
        if g.entry < 0:
            return []
        entry = [g.entry]
        for layer in range(g.max_level, 0, -1):
            entry = [self.search_layer(query, entry, 1, layer)[0][1]]
        return self.search_layer(query, entry, max(ef, k), 0, excluded)[:k]

    # --- deletion --------------------------------------------------------------------------
    def delete(self, node: int) -> None:
        """Mark ``node`` deleted and reconnect every element that linked to it."""
        g, p = self.graph, self.params
        if g.deleted[node]:
            return
        g.deleted[node] = True
        for layer in range(int(g.levels[node]), -1, -1):
            own = [int(n) for n in g.neighbours(node, layer) if not g.deleted[n]]
            limit = p.m_max0 if layer == 0 else p.m_max
            for other in g.in_neighbours(node, layer):
                if g.deleted[other]:
                    continue
                keep = [int(n) for n in g.neighbours(other, layer) if n != node]
                pool = keep + [n for n in own if n != other and n not in keep]
                self.shrink(other, layer, pool, limit) if pool else g.set_neighbours(
                    other, layer, []
                )
            g.set_neighbours(node, layer, [])
        if node == g.entry:
            choose_entry(g)


def choose_entry(g: Graph) -> None:
    """A new entry point after the old one was deleted: the live element with the top level."""
    live = ~g.deleted[: g.size]
    if not live.any():
        g.entry, g.max_level = -1, -1
        return
    levels = np.where(live, g.levels[: g.size], -1)
    g.entry = int(np.argmax(levels))
    g.max_level = int(levels[g.entry])
