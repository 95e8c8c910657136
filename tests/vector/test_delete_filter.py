"""Deletion and filtered search: properties checked against the exact index (Hypothesis)."""

from __future__ import annotations

import copy

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from archlab.vector.datasets import recall, synthetic
from archlab.vector.exact import BruteForceIndex
from archlab.vector.index import HNSWIndex

ROWS = synthetic("clustered", 1200, 8, seed=21, clusters=20)
BASE, QUERIES = ROWS[40:], ROWS[:40]
SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _built() -> HNSWIndex:
    index = HNSWIndex(8, m=8, ef_construction=48, seed=3)
    index.add(BASE)
    return index


BUILT = _built()


def pair() -> tuple[HNSWIndex, BruteForceIndex]:
    """A fresh copy of one built index (building once keeps the examples fast) and its oracle."""
    index = copy.deepcopy(BUILT)
    exact = BruteForceIndex(8)
    exact.add(BASE)
    return index, exact


@SETTINGS
@given(st.lists(st.integers(0, len(BASE) - 1), min_size=1, max_size=150, unique=True))
def test_deleted_ids_never_come_back_and_recall_holds(doomed: list[int]) -> None:
    index, exact = pair()
    index.delete(doomed)
    exact.delete(doomed)
    assert len(index) == len(BASE) - len(doomed)
    found = index.search(QUERIES, 10, ef=64)
    assert not set(found.ids.ravel().tolist()) & set(doomed)
    assert recall(found.ids, exact.search(QUERIES, 10).ids) >= 0.9
    g = index.graph
    live_links = g.arrays["links0"][: g.size]
    assert not np.isin(live_links[live_links >= 0], doomed).any(), "links to deleted are repaired"
    assert g.entry == -1 or not g.deleted[g.entry]


@SETTINGS
@given(st.integers(2, 12), st.integers(0, 11))
def test_filtered_search_returns_only_allowed_ids(modulus: int, residue: int) -> None:
    index, exact = pair()
    allowed = lambda i: i % modulus == residue % modulus  # noqa: E731
    found = index.search(QUERIES, 10, ef=64, allowed=allowed)
    returned = found.ids[found.ids >= 0]
    assert all(allowed(int(i)) for i in returned)
    truth = exact.search(QUERIES, 10, allowed=allowed).ids
    assert recall(found.ids, truth) >= 0.85


def test_filter_forms_agree() -> None:
    index, _ = pair()
    ids = list(range(0, len(BASE), 3))
    mask = np.zeros(len(BASE), bool)
    mask[ids] = True
    by_set = index.search(QUERIES, 5, allowed=set(ids)).ids
    assert np.array_equal(by_set, index.search(QUERIES, 5, allowed=mask).ids)
    assert np.array_equal(by_set, index.search(QUERIES, 5, allowed=lambda i: i % 3 == 0).ids)


def test_an_empty_filter_returns_nothing() -> None:
    index, _ = pair()
    assert (index.search(QUERIES[:3], 5, allowed=[]).ids == -1).all()


def test_deleting_everything_then_inserting_again() -> None:
    index, _ = pair()
    index.delete(range(len(BASE)))
    assert len(index) == 0 and index.graph.entry == -1
    assert (index.search(QUERIES[:2], 3).ids == -1).all()
    new = index.add(QUERIES)
    assert index.search(QUERIES[:1], 1).ids[0, 0] == new[0]


def test_python_engine_deletes_the_same_way() -> None:
    a = HNSWIndex(8, m=8, ef_construction=48, seed=3, engine="python")
    a.add(BASE[:300])
    a.delete([0, 5, 17, a.graph.entry])
    found = a.search(QUERIES, 5, ef=32)
    assert not set(found.ids.ravel().tolist()) & {0, 5, 17}
