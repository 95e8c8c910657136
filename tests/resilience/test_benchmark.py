"""`archlab bench limits` measures both sides on one redis-server and reports comparable pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from archlab.lab import BenchContext
from archlab.resilience import benchmarks
from archlab.resilience.redisproc import RedisServer


def test_the_benchmark_reports_every_rule_and_a_ratio_per_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer
) -> None:
    monkeypatch.setattr(benchmarks, "QUICK", (20, 1))
    monkeypatch.setattr(benchmarks, "USERS", 5)
    monkeypatch.setattr(benchmarks, "LIMIT", 10)
    report = benchmarks.bench_limits(BenchContext(quick=True, seed=0, scratch=tmp_path))
    rules = {row["rule"] for row in report.rows}
    assert {"fixed window", "token bucket", "gcra"} <= rules
    assert len(report.ratios) == len(benchmarks.PAIRS) + 1  # and federation
    federation = report.ratios[-1]
    assert federation.value is not None and federation.value > 10
    assert all(row["decisions/s"] > 0 for row in report.rows)
