"""One-file persistence: a round trip keeps the graph; damaged files give one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archlab.errors import InputFormatError
from archlab.vector.datasets import Dataset
from archlab.vector.index import HNSWIndex


def test_round_trip_is_memory_mapped_and_identical(clustered: Dataset, tmp_path: Path) -> None:
    index = HNSWIndex(16, "cosine", m=8, ef_construction=40, seed=4)
    index.add(clustered.base)
    index.delete([3, 4])
    path = tmp_path / "index.hnsw"
    index.save(path)
    loaded = HNSWIndex.load(path)
    assert isinstance(loaded.graph.arrays["vectors"].base, np.memmap)
    for name in ("vectors", "links0", "links_up", "levels", "deleted"):
        used = loaded.graph.arrays[name]
        assert np.array_equal(index.graph.arrays[name][: len(used)], used)
    assert (loaded.metric, loaded.params, loaded.graph.entry) == (
        index.metric,
        index.params,
        index.graph.entry,
    )
    a, b = index.search(clustered.queries, 10), loaded.search(clustered.queries, 10)
    assert np.array_equal(a.ids, b.ids)
    # inserting after a load continues the same level stream, and never writes the file
    before = path.read_bytes()
    index.add(clustered.queries)
    loaded.add(clustered.queries)
    assert np.array_equal(
        index.graph.arrays["levels"][: index.graph.size], loaded.graph.levels[: loaded.graph.size]
    )
    assert path.read_bytes() == before


def test_empty_index_round_trip(tmp_path: Path) -> None:
    HNSWIndex(3).save(tmp_path / "e.hnsw")
    loaded = HNSWIndex.load(tmp_path / "e.hnsw")
    assert len(loaded) == 0
    loaded.add(np.eye(3))
    assert loaded.search(np.eye(3)[:1], 1).ids[0, 0] == 0


@pytest.mark.parametrize("keep", [0, 10, 30, 200, -1])
def test_truncated_files_are_refused(clustered: Dataset, tmp_path: Path, keep: int) -> None:
    index = HNSWIndex(16, m=8, ef_construction=20, seed=4)
    index.add(clustered.base[:200])
    path = tmp_path / "index.hnsw"
    index.save(path)
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:-1])
    with pytest.raises(InputFormatError, match="truncated|magic"):
        HNSWIndex.load(path)


def test_foreign_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.hnsw"
    path.write_bytes(b"\x93NUMPY" + bytes(100))
    with pytest.raises(InputFormatError, match="magic"):
        HNSWIndex.load(path)
