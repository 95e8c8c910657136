"""The storage benchmark's engines all run every workload on the same small data (not timed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archlab.lab.bench import peer_available
from archlab.storage import benchmarks


@pytest.mark.parametrize("engine", benchmarks.ENGINES)
def test_every_engine_runs_every_workload(engine: str, tmp_path: Path) -> None:
    module = benchmarks.PEER_MODULES.get(engine)
    if module is not None and not peer_available(module):
        pytest.skip(f"peer {module} is not installed")
    result = benchmarks.run_engine(engine, tmp_path, n=2000, reads=400, seed=3)
    assert set(result) == set(benchmarks.WORKLOADS)
    assert all(ops > 0 for ops in result.values())


def test_cli_lists_the_storage_benchmark(cli: type) -> None:
    out = cli.run(["bench"])
    assert out.exit_code == 0 and "storage" in out.stdout


def test_every_engine_gets_the_same_cache_budget(tmp_path: Path) -> None:
    budget = 8 << 20
    lsm = benchmarks.make_engine("archlab-lsm", tmp_path / "lsm", budget)
    btree = benchmarks.make_engine("archlab-btree", tmp_path / "btree", budget)
    sqlite = benchmarks.make_engine("sqlite", tmp_path / "sqlite", budget)
    try:
        assert isinstance(lsm, benchmarks.ArchlabEngine)
        assert isinstance(btree, benchmarks.ArchlabEngine)
        assert isinstance(sqlite, benchmarks.SqliteEngine)
        assert lsm.store.stats()["sync"] == btree.store.stats()["sync"] == "os"
        assert lsm.store.options.block_cache_bytes == budget  # type: ignore[attr-defined]
        frames = btree.store.options.frames  # type: ignore[attr-defined]
        assert frames * benchmarks.PAGE_BYTES == budget
        assert sqlite.db.execute("PRAGMA cache_size").fetchone()[0] == -(budget // 1024)
    finally:
        for engine in (lsm, btree, sqlite):
            engine.close()


def test_ratios_pair_the_rounds_and_judge_goals_by_their_spread() -> None:
    samples = {
        "archlab-lsm": {w: [1.0, 1.0, 1.0] for w in benchmarks.WORKLOADS},
        "rocksdb": {w: [2.0, 4.0, 2.5] for w in benchmarks.WORKLOADS},
    }
    ratios = {r.label: r for r in benchmarks.ratios_of(samples)}
    fill = ratios["archlab LSM / RocksDB, fillrandom"]
    assert fill.value == 0.4 and fill.spread == (0.25, 0.5)
    assert fill.status == "not established"  # 1/3 lies within 0.25–0.5
    assert ratios["archlab B+-tree / SQLite, readrandom"].value is None  # peers not measured
