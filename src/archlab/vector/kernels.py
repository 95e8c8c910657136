"""The HNSW algorithms compiled with numba: the same steps as :mod:`archlab.vector.reference`.

A profile of the Python reference (BENCHMARKS.md, "Vector search") shows the time goes to the
interpreter, not to arithmetic: heap pushes, set look-ups and one small numpy call per expanded
node, a few microseconds each, while a 384-dimensional distance costs well under one. So the
loops are compiled here, over the very arrays of :class:`archlab.vector.graph.Graph`, with
the reference's order of operations: ``(distance, id)`` heaps, the same visiting order, the
same tie-breaks. Given exactly representable distances both produce the same graph, link for
link (tests/vector/test_engines.py checks it); on general floats the two may differ where
summation order changes the last bit of a distance.

Two deliberate differences that do not change any result: "visited" is an array of per-search
tags (as in hnswlib) instead of a Python set, and the heuristic stops comparing a candidate
with the kept set at the first kept element that is nearer (the reference compares all, one
numpy call), so the kernels count fewer distance evaluations during construction.

numba compiles on first use and caches the machine code next to this file (``cache=True``).
"""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np
from numba import njit

# Graph arrays, as one tuple: (vectors, links0, count0, upper_base, links_up, count_up)
Arrays = tuple[Any, ...]


@njit(cache=True, fastmath=True)
def _dist(vectors: Any, row: Any, query: Any, metric: int) -> float:
    acc = np.float32(0.0)
    v = vectors[row]
    if metric == 0:
        for j in range(v.shape[0]):
            t = v[j] - query[j]
            acc += t * t
        return np.float64(acc)
    for j in range(v.shape[0]):
        acc += v[j] * query[j]
    return np.float64(np.float32(1.0) - acc)


@njit(cache=True)
def _links(g: Arrays, node: Any, layer: int) -> Any:
    if layer == 0:
        return g[1][node, : g[2][node]]
    row = g[3][node] + layer - 1
    return g[4][row, : g[5][row]]


@njit(cache=True)
def _set_links(g: Arrays, node: int, layer: int, ids: Any, count: int) -> None:
    if layer == 0:
        links, counts, row = g[1], g[2], node
    else:
        links, counts, row = g[4], g[5], g[3][node] + layer - 1
    for i in range(count):
        links[row, i] = ids[i]
    for i in range(count, links.shape[1]):
        links[row, i] = -1
    counts[row] = count


@njit(cache=True)
def _next_tag(visit: Any, tag: Any) -> int:
    tag[0] += 1
    if tag[0] >= 2**30:
        visit[:] = 0
        tag[0] = 1
    return int(tag[0])


@njit(cache=True)
def search_layer(
    g: Arrays,
    query: Any,
    entry: Any,
    ef: int,
    layer: int,
    excluded: Any,
    metric: int,
    visit: Any,
    tag: Any,
    stats: Any,
) -> tuple[Any, Any]:
    """Algorithm 2; returns (distances, ids) nearest first. ``excluded`` may be empty."""
    mark = _next_tag(visit, tag)
    use_excl = excluded.shape[0] > 0
    cand = [(0.0, np.int64(0))]
    cand.pop()
    res = [(0.0, np.int64(0))]
    res.pop()
    for i in range(entry.shape[0]):
        node = np.int64(entry[i])
        visit[node] = mark
        d = _dist(g[0], node, query, metric)
        stats[0] += 1
        heapq.heappush(cand, (d, node))
        if not use_excl or not excluded[node]:
            heapq.heappush(res, (-d, -node))
    while len(res) > ef:
        heapq.heappop(res)
    while len(cand) > 0:
        dc, current = heapq.heappop(cand)
        if len(res) >= ef and dc > -res[0][0]:
            break
        neigh = _links(g, current, layer)
        for i in range(neigh.shape[0]):
            node = np.int64(neigh[i])
            if visit[node] == mark:
                continue
            visit[node] = mark
            d = _dist(g[0], node, query, metric)
            stats[0] += 1
            if len(res) < ef or d < -res[0][0]:
                heapq.heappush(cand, (d, node))
                if not use_excl or not excluded[node]:
                    heapq.heappush(res, (-d, -node))
                    if len(res) > ef:
                        heapq.heappop(res)
    n = len(res)
    dists = np.empty(n, np.float64)
    ids = np.empty(n, np.int64)
    for i in range(n - 1, -1, -1):
        d, node = heapq.heappop(res)
        dists[i] = -d
        ids[i] = -node
    return dists, ids


@njit(cache=True)
def select(  # noqa: PLR0912 - algorithm 4 of the HNSW paper with both options, in its numba kernel (one function, no calls)
    g: Arrays,
    base: Any,
    dists: Any,
    ids: Any,
    m: int,
    layer: int,
    heuristic: bool,
    extend: bool,
    keep_pruned: bool,
    metric: int,
    visit: Any,
    tag: Any,
    stats: Any,
) -> Any:
    """Algorithm 3 or 4 over candidates sorted nearest first; returns the chosen ids."""
    work = [(dists[i], np.int64(ids[i])) for i in range(ids.shape[0])]
    if not heuristic:
        return np.array([node for _, node in work[:m]], dtype=np.int64)
    if extend:
        mark = _next_tag(visit, tag)
        for i in range(ids.shape[0]):
            visit[ids[i]] = mark
        for i in range(ids.shape[0]):
            neigh = _links(g, ids[i], layer)
            for j in range(neigh.shape[0]):
                adj = np.int64(neigh[j])
                if visit[adj] != mark:
                    visit[adj] = mark
                    work.append((_dist(g[0], adj, base, metric), adj))
                    stats[0] += 1
        work.sort()
    kept = np.empty(m, np.int64)
    n_kept = 0
    pruned = [(0.0, np.int64(0))]
    pruned.pop()
    for d, node in work:
        if n_kept >= m:
            break
        good = True
        for k in range(n_kept):
            stats[0] += 1
            if _dist(g[0], kept[k], g[0][node], metric) <= d:
                good = False
                break
        if good:
            kept[n_kept] = node
            n_kept += 1
        else:
            pruned.append((d, node))
    if keep_pruned:
        for _, node in pruned:
            if n_kept >= m:
                break
            kept[n_kept] = node
            n_kept += 1
    return kept[:n_kept]


@njit(cache=True)
def insert(
    g: Arrays,
    levels: Any,
    node: int,
    entry_point: int,
    max_level: int,
    m: int,
    m_max: int,
    m_max0: int,
    ef_construction: int,
    heuristic: bool,
    extend: bool,
    keep_pruned: bool,
    metric: int,
    visit: Any,
    tag: Any,
    stats: Any,
) -> None:
    """Algorithm 1 for the stored element ``node``; the caller moves the entry point."""
    no_excl = np.zeros(0, np.bool_)
    query = g[0][node]
    level = levels[node]
    entry = np.array([entry_point], dtype=np.int64)
    for layer in range(max_level, level, -1):
        _, ids = search_layer(g, query, entry, 1, layer, no_excl, metric, visit, tag, stats)
        entry = ids[:1]
    for layer in range(min(max_level, level), -1, -1):
        fd, fi = search_layer(
            g, query, entry, ef_construction, layer, no_excl, metric, visit, tag, stats
        )
        chosen = select(
            g, query, fd, fi, m, layer, heuristic, extend, keep_pruned, metric, visit, tag, stats
        )
        _set_links(g, node, layer, chosen, chosen.shape[0])
        limit = m_max0 if layer == 0 else m_max
        for c in range(chosen.shape[0]):
            other = chosen[c]
            current = _links(g, other, layer)
            n = current.shape[0]
            if n < limit:
                pool = np.empty(n + 1, np.int64)
                pool[:n] = current
                pool[n] = node
                _set_links(g, other, layer, pool, n + 1)
                continue
            base = g[0][other]
            ranked = [
                (_dist(g[0], current[i], base, metric), np.int64(current[i])) for i in range(n)
            ]
            ranked.append((_dist(g[0], node, base, metric), np.int64(node)))
            stats[0] += n + 1
            ranked.sort()
            pd = np.array([r[0] for r in ranked])
            pi = np.array([r[1] for r in ranked])
            kept = select(
                g,
                base,
                pd,
                pi,
                limit,
                layer,
                heuristic,
                extend,
                keep_pruned,
                metric,
                visit,
                tag,
                stats,
            )
            _set_links(g, other, layer, kept, kept.shape[0])
        entry = fi


@njit(cache=True)
def knn_search(
    g: Arrays,
    queries: Any,
    k: int,
    ef: int,
    entry_point: int,
    max_level: int,
    excluded: Any,
    metric: int,
    visit: Any,
    tag: Any,
    stats: Any,
) -> tuple[Any, Any]:
    """Algorithm 5 for every query row; (ids, distances), padded with -1 / inf."""
    nq = queries.shape[0]
    out_ids = np.full((nq, k), -1, np.int64)
    out_d = np.full((nq, k), np.inf, np.float32)
    no_excl = np.zeros(0, np.bool_)
    for q in range(nq):
        query = queries[q]
        entry = np.array([entry_point], dtype=np.int64)
        for layer in range(max_level, 0, -1):
            _, ids = search_layer(g, query, entry, 1, layer, no_excl, metric, visit, tag, stats)
            entry = ids[:1]
        fd, fi = search_layer(g, query, entry, max(ef, k), 0, excluded, metric, visit, tag, stats)
        n = min(k, fi.shape[0])
        out_ids[q, :n] = fi[:n]
        out_d[q, :n] = fd[:n]
    return out_ids, out_d
