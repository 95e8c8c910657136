"""Data sets: synthetic generators, held-out queries, the on-disk ground-truth cache, file input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archlab.errors import ConfigError, InputFormatError
from archlab.vector.datasets import (
    Dataset,
    ground_truth,
    make_dataset,
    read_vectors,
    recall,
    synthetic,
)


@pytest.mark.parametrize("name", ["uniform", "clustered", "isotropic"])
def test_synthetic_sets_are_seeded(name: str) -> None:
    a = synthetic(name, 500, 6, seed=1)
    assert a.shape == (500, 6) and a.dtype == np.float32
    assert np.array_equal(a, synthetic(name, 500, 6, seed=1))
    assert not np.array_equal(a, synthetic(name, 500, 6, seed=2))


def test_queries_are_held_out() -> None:
    data = make_dataset("uniform", 300, 20, seed=0, dim=4)
    assert data.base.shape == (300, 4) and data.queries.shape == (20, 4)
    assert not (data.base[:, None, :] == data.queries[None, :, :]).all(axis=2).any()
    with pytest.raises(ConfigError, match="unknown data set"):
        make_dataset("sift", 10, 1, seed=0)


def test_ground_truth_is_exact_and_cached(tmp_path: Path) -> None:
    data = make_dataset("clustered", 400, 10, seed=3, dim=5)
    first = ground_truth(data, 5, tmp_path)
    assert len(list(tmp_path.glob("gt-*.npy"))) == 1
    dist = ((data.queries[:, None, :] - data.base[None, :, :]) ** 2).sum(axis=2)
    assert recall(first, np.argsort(dist, axis=1)[:, :5]) == 1.0
    # a different data set does not hit the same cache entry
    other = Dataset(data.name, data.base[1:], data.queries, data.metric)
    ground_truth(other, 5, tmp_path)
    assert len(list(tmp_path.glob("gt-*.npy"))) == 2
    assert np.array_equal(first, ground_truth(data, 5, tmp_path))


def test_fvecs_and_npy_round_trip(tmp_path: Path) -> None:
    rows = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "v.npy", rows)
    dims = np.full((3, 1), 4, "<i4")
    np.hstack([dims, rows.view("<i4")]).tofile(tmp_path / "v.fvecs")
    assert np.array_equal(read_vectors(tmp_path / "v.npy"), rows)
    assert np.array_equal(read_vectors(tmp_path / "v.fvecs"), rows)
    (tmp_path / "cut.fvecs").write_bytes((tmp_path / "v.fvecs").read_bytes()[:-4])
    with pytest.raises(InputFormatError, match="dimension"):
        read_vectors(tmp_path / "cut.fvecs")
    with pytest.raises(InputFormatError, match="cannot read"):
        read_vectors(tmp_path / "absent.npy")
