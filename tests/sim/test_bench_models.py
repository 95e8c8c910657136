"""The benchmark's models are equivalent: every system delivers the same number of messages."""

from __future__ import annotations

import pytest

from archlab.lab.bench import BenchContext, get
from archlab.sim import benchmarks


@pytest.mark.parametrize("model", list(benchmarks.MODELS))
@pytest.mark.parametrize("processes", [2, 7, 40])
def test_every_system_delivers_the_same_messages(model: str, processes: int) -> None:
    counts = {}
    for name, fn in benchmarks.MODELS[model].items():
        if name.startswith("simpy"):
            pytest.importorskip("simpy")
        counts[name] = fn(processes, 600, 3)
    assert len(set(counts.values())) == 1, counts
    assert next(iter(counts.values())) >= 500


def test_the_benchmark_is_registered() -> None:
    bench = get("sim")
    assert bench.title == "Simulation kernel vs SimPy"
    assert isinstance(BenchContext, type)
