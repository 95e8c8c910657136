"""``archlab bench ids`` reports every scheme in both forms, and a missing peer as missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from archlab.ids import benchmarks
from archlab.lab.bench import BenchContext


def test_rows_and_ratios_for_every_scheme(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(benchmarks, "QUICK", (200, 1))
    real = benchmarks.peer_available
    monkeypatch.setattr(benchmarks, "peer_available", lambda m: m != "ksuid" and real(m))
    report = benchmarks.bench_ids(BenchContext(quick=True, seed=0, scratch=tmp_path))
    assert [(r["scheme"], r["form"]) for r in report.rows] == [
        (s, f) for s in ("ulid", "uuid7", "ksuid", "uuid4", "snowflake") for f in ("object", "text")
    ]
    assert all(r["archlab"] > 0 for r in report.rows)
    assert "svix-ksuid" in report.missing_peers
    ksuid = [r for r in report.ratios if r.label.startswith("ksuid")]
    assert ksuid and all(r.value is None and r.met is None for r in ksuid)
    uuid4 = [r for r in report.ratios if r.label.startswith("uuid4")]
    assert all(r.value is not None and r.value > 0 for r in uuid4)  # the stdlib is always there
