"""Shared data for the vector tests: small, seeded, fast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archlab.vector.datasets import Dataset, ground_truth, synthetic


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHLAB_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def clustered() -> Dataset:
    rows = synthetic("clustered", 3000, 16, seed=7, clusters=30)
    return Dataset("clustered", rows[100:], rows[:100], "l2")


@pytest.fixture(scope="session")
def clustered_truth(clustered: Dataset, tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    return ground_truth(clustered, 10, tmp_path_factory.mktemp("gt"))
