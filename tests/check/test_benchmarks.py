"""``archlab bench check`` is registered and its workloads are what it says (never timed here)."""

from __future__ import annotations

import random
from pathlib import Path

from archlab.check import benchmarks
from archlab.check.generate import register_history
from archlab.check.linearizability import check_linearizable
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
    assert row["verdict"] == "True ×3"
    assert 150 <= row["ops"] <= 400
    assert row["info_ops"] > row["ops"] / 5


def test_the_invalid_variants_are_invalid() -> None:
    for w in benchmarks._workloads(quick=True):
        if w.checker == "linearizable" and w.ops > 1_000:
            continue
        assert w.make_invalid is not None and w.check_invalid is not None
        events = w.make_invalid(random.Random(0))
        if w.checker == "linearizable":
            # A garbage read: the search may need long to rule out every order before it,
            # so the check is made on a short history of the same shape.
            events = benchmarks.garbage_read(events[:120])
            assert check_linearizable(events, w.name.split(",")[0]).valid is False, w.name
        else:
            assert w.check_invalid(events) is False, w.name


def test_a_garbage_read_replaces_the_middle_read_only() -> None:
    events = register_history(random.Random(1), kind="register", ops=50, processes=3)
    bad = benchmarks.garbage_read(events)
    changed = [i for i, (a, b) in enumerate(zip(events, bad, strict=True)) if a != b]
    assert len(changed) == 1 and bad[changed[0]].value == "never written"
    assert bad[changed[0]].f == "read" and bad[changed[0]].type == "ok"
