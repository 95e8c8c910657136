"""HNSW (codex 8.1): recall on fixed seeds, determinism, both engines, the paper's parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from archlab.errors import ConfigError, InputFormatError
from archlab.vector.datasets import Dataset, recall, synthetic
from archlab.vector.exact import BruteForceIndex
from archlab.vector.index import HNSWIndex


def build(data: Dataset, **kw: object) -> HNSWIndex:
    index = HNSWIndex(data.base.shape[1], data.metric, **kw)  # type: ignore[arg-type]
    index.add(data.base)
    return index


def test_paper_defaults() -> None:
    index = HNSWIndex(4, m=16)
    assert index.params.m_max == 16 and index.params.m_max0 == 32
    assert index.ml == pytest.approx(1 / math.log(16))


def test_levels_follow_the_exponential_distribution() -> None:
    index = HNSWIndex(2, m=16, seed=1)
    levels = np.array([index.draw_level() for _ in range(20000)])
    # P(level >= 1) = exp(-1/mL) = 1/M
    assert abs((levels >= 1).mean() - 1 / 16) < 0.01
    assert abs((levels >= 2).mean() - 1 / 256) < 0.002


@pytest.mark.parametrize("engine", ["python", "numba"])
def test_recall_on_a_fixed_seed(
    clustered: Dataset, clustered_truth: np.ndarray, engine: str
) -> None:
    index = build(clustered, m=8, ef_construction=64, seed=5, engine=engine)
    assert recall(index.search(clustered.queries, 10, ef=64).ids, clustered_truth) >= 0.95
    low = recall(index.search(clustered.queries, 10, ef=10).ids, clustered_truth)
    assert low < recall(index.search(clustered.queries, 10, ef=128).ids, clustered_truth)


@pytest.mark.parametrize("metric", ["l2", "ip", "cosine"])
def test_every_metric_agrees_with_brute_force(metric: str) -> None:
    rows = synthetic("isotropic", 1500, 12, seed=3)
    base, queries = rows[50:], rows[:50]
    exact = BruteForceIndex(12, metric)
    exact.add(base)
    index = HNSWIndex(12, metric, m=12, ef_construction=100, seed=2)
    index.add(base)
    truth = exact.search(queries, 10)
    found = index.search(queries, 10, ef=100)
    assert recall(found.ids, truth.ids) >= 0.95
    hit = found.ids[:, 0] == truth.ids[:, 0]
    assert np.allclose(found.distances[hit, 0], truth.distances[hit, 0], atol=1e-4)


def test_results_are_sorted_and_padded() -> None:
    index = HNSWIndex(3, seed=0)
    index.add(np.eye(3, dtype=np.float32))
    result = index.search(np.zeros(3, np.float32), k=5, ef=10)
    assert result.ids.shape == (1, 5)
    assert sorted(result.ids[0, :3].tolist()) == [0, 1, 2]
    assert (result.ids[0, 3:] == -1).all() and np.isinf(result.distances[0, 3:]).all()
    assert (np.diff(result.distances[0, :3]) >= 0).all()


def test_empty_index_returns_nothing() -> None:
    result = HNSWIndex(4).search(np.ones(4), k=3)
    assert (result.ids == -1).all()


@pytest.mark.parametrize("engine", ["python", "numba"])
def test_same_seed_same_graph(clustered: Dataset, engine: str) -> None:
    clustered = Dataset("part", clustered.base[:800], clustered.queries, "l2")
    a = build(clustered, m=6, ef_construction=32, seed=9, engine=engine)
    b = build(clustered, m=6, ef_construction=32, seed=9, engine=engine)
    c = build(clustered, m=6, ef_construction=32, seed=10, engine=engine)
    for name in ("links0", "links_up", "levels"):
        assert np.array_equal(a.graph.arrays[name], b.graph.arrays[name])
    assert not np.array_equal(a.graph.arrays["levels"], c.graph.arrays["levels"])


@pytest.mark.parametrize(
    "options",
    [
        {"heuristic": True},
        {"heuristic": False},
        {"heuristic": True, "extend_candidates": True, "keep_pruned": True},
    ],
)
@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_both_engines_build_the_same_graph(options: dict[str, bool], metric: str) -> None:
    """On small integer vectors every distance is exact, so the two engines must agree exactly."""
    rows = np.random.default_rng(4).integers(-4, 5, size=(700, 6)).astype(np.float32)
    built = []
    for engine in ("python", "numba"):
        index = HNSWIndex(6, metric, m=5, ef_construction=24, seed=11, engine=engine, **options)  # type: ignore[arg-type]
        index.add(rows)
        built.append(index)
    python, numba = built
    for name in ("levels", "links0", "count0", "links_up", "count_up", "upper_base"):
        assert np.array_equal(python.graph.arrays[name], numba.graph.arrays[name]), name
    assert python.graph.entry == numba.graph.entry
    queries = rows[:40] + 0.5
    a, b = python.search(queries, 5, ef=20), numba.search(queries, 5, ef=20)
    assert np.array_equal(a.ids, b.ids)


def test_heuristic_keeps_links_that_spread_out() -> None:
    """Algorithm 4 drops a candidate that is nearer an already kept neighbour than the base."""
    index = HNSWIndex(2, m=2, engine="python", seed=0)
    index.add(np.array([[0, 0], [1, 0], [1.1, 0], [-1, 0]], np.float32))
    from archlab.vector.reference import Builder

    builder = Builder(index.graph, "l2", index.params)
    base = np.zeros(2, np.float32)
    chosen = builder.select_heuristic(base, [(1.0, 1), (1.21, 2), (1.0001, 3)], 2, 0)
    assert [n for _, n in chosen] == [1, 3]  # 2 sits behind 1, so 3 (the other side) wins
    assert [n for _, n in builder.select_simple([(1.0, 1), (1.21, 2), (1.0001, 3)], 2)] == [1, 3]
    chosen = builder.select_heuristic(base, [(1.0, 1), (1.21, 2)], 2, 0)
    assert [n for _, n in chosen] == [1]


def test_link_lists_respect_their_bounds(clustered: Dataset) -> None:
    index = build(clustered, m=6, ef_construction=32, seed=1)
    g = index.graph
    assert g.arrays["count0"][: g.size].max() <= 12
    assert g.arrays["count_up"][: g.rows].max(initial=0) <= 6
    links = g.arrays["links0"][: g.size]
    assert ((links == -1) | ((links >= 0) & (links < g.size))).all()
    assert not (links == np.arange(g.size)[:, None]).any(), "no self-links"


def test_incremental_insertion_after_search(
    clustered: Dataset, clustered_truth: np.ndarray
) -> None:
    index = HNSWIndex(16, m=8, ef_construction=64, seed=5)
    index.add(clustered.base[:1500])
    index.search(clustered.queries, 10)
    index.add(clustered.base[1500:])
    assert len(index) == len(clustered.base)
    assert recall(index.search(clustered.queries, 10, ef=64).ids, clustered_truth) >= 0.95


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (np.ones((3, 5)), "dimension 5"),
        (np.array([[1.0, np.nan, 0, 0]]), "non-finite"),
        (np.array(["a", "b"]), "numeric"),
    ],
)
def test_bad_vectors_are_refused(rows: np.ndarray, message: str) -> None:
    with pytest.raises(InputFormatError, match=message):
        HNSWIndex(4).add(rows)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ConfigError):
        HNSWIndex(4, metric="hamming")
    with pytest.raises(ConfigError):
        HNSWIndex(4, m=1)
    with pytest.raises(ConfigError):
        HNSWIndex(4).search(np.ones(4), k=0)


@pytest.mark.parametrize("flaw", ["none", "farthest-neighbours", "one-way-links"])
def test_the_recall_check_catches_broken_variants(
    clustered: Dataset, flaw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deliberately broken builds of the reference fail the recall threshold the index meets."""
    from archlab.vector.reference import Builder

    if flaw == "farthest-neighbours":
        monkeypatch.setattr(
            Builder, "select", lambda self, base, cands, m, layer: sorted(cands)[-m:]
        )
    elif flaw == "one-way-links":
        monkeypatch.setattr(Builder, "shrink", lambda self, node, layer, ids, limit: None)
        monkeypatch.setattr(
            "archlab.vector.graph.Graph.add_link", lambda self, node, layer, other: None
        )
    part = Dataset("part", clustered.base[:1500], clustered.queries, "l2")
    index = HNSWIndex(16, m=8, ef_construction=64, seed=5, engine="python")
    index.add(part.base)
    truth = BruteForceIndex(16)
    truth.add(part.base)
    found = index.search(part.queries, 10, ef=64).ids
    measured = recall(found, truth.search(part.queries, 10).ids)
    assert (measured >= 0.95) == (flaw == "none"), measured
