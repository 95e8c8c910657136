"""``archlab bench check`` is registered and its workloads are what it says (never timed here)."""

from __future__ import annotations

import random
from pathlib import Path

from archlab.check import benchmarks
from archlab.lab import bench
from archlab.lab.bench import BenchContext


def test_the_benchmark_is_registered() -> None:
    assert bench.get("check").title.startswith("History checkers")


def test_every_workload_is_a_valid_history_of_the_advertised_size() -> None:
    for w in benchmarks._workloads(quick=True):
        if w.ops > 1_000:
            continue  # the larger ones are the same generators, only longer
        events = w.make(random.Random(0))
        assert sum(1 for e in events if e.type == "invoke") == w.ops
        assert len({e.process for e in events}) <= w.processes
        assert w.check(events) is True, w.name


def test_etcd_like_histories_have_many_timeouts_and_all_pass(tmp_path: Path) -> None:
    row, times = benchmarks._etcd_like(BenchContext(quick=True, seed=0, scratch=tmp_path), 3)
    assert len(times) == 3
    assert row["verdict"] == "True"
    assert 150 <= row["ops"] <= 400
    assert row["info_ops"] > row["ops"] / 5
