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
