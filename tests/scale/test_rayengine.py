"""Sweeps and reports on Ray give what the local pool gives, seed for seed (one small local Ray)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from archlab.cli import main as archlab_main
from archlab.errors import ArchlabError, ConfigError
from archlab.lab import registry
from archlab.lab.cli import _run_all
from archlab.scale.rayengine import RayWorkers, parse_on
from archlab.sim.nemesis import NemesisSpec
from archlab.sim.scenario import get_scenario
from archlab.sim.sweep import Workers

TIMINGS = ("sim_seconds", "check_seconds")
#: A sweep in which seed 1 is a violation (a deliberately broken register).
SWEEP = [
    "sim",
    "register",
    "--variant",
    "broken",
    "--seeds",
    "1-4",
    "--ops",
    "60",
    "--nemesis",
    "partition,crash,loss",
]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """One local Ray on two CPUs for the module; RayWorkers joins it and leaves it running."""
    ray = pytest.importorskip("ray")
    sigterm = signal.getsignal(signal.SIGTERM)  # ray.init replaces it; later tests fork
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()
        signal.signal(signal.SIGTERM, sigterm)


def _plain(report: Any) -> dict[str, Any]:
    data: dict[str, Any] = report.to_dict()
    return {k: v for k, v in data.items() if k not in TIMINGS}


def test_a_sweep_on_ray_reports_what_the_local_pool_reports(local_ray: Any) -> None:
    base = replace(
        get_scenario("raft").default_config(),
        ops=30,
        nemesis=NemesisSpec.parse("partition,crash"),
    )
    configs = [replace(base, seed=s) for s in range(1, 5)]
    with Workers(1) as local:
        expected = [_plain(r) for r in local.sweep("raft", configs)]
    with RayWorkers(batch=2) as workers:
        assert workers.cpus == 2
        on_ray = [_plain(r) for r in workers.sweep("raft", configs)]
    assert on_ray == expected
    assert [r["seed"] for r in on_ray] == list(range(1, 5))
    assert local_ray.is_initialized()  # a Ray it did not start is left running


def test_sim_command_on_ray_prints_the_local_lines_and_failing_seeds(
    local_ray: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    def lines(*extra: str) -> list[str]:
        with pytest.raises(SystemExit) as stop:
            archlab_main([*SWEEP, *extra])
        assert stop.value.code == 1  # seed 1 is a violation
        return capsys.readouterr().out.splitlines()

    local, ray = lines("--jobs", "1"), lines("--on", "ray")
    summary = next(i for i, line in enumerate(local) if " seeds in " in line)
    assert ray[:summary] == local[:summary]  # one line per seed, with its command
    assert ray[summary + 1 :] == local[summary + 1 :]  # the failing seeds, reproducible
    assert any(line.startswith("VIOLATION seed 1") for line in ray)
    assert "on Ray (2 CPUs)" in ray[summary]


def test_report_on_ray_measures_what_a_local_run_measures(local_ray: Any, tmp_path: Path) -> None:
    exp = [registry.get("design.regime_map")]
    quiet = Console(file=open(tmp_path / "log", "w"))  # noqa: SIM115 - closed with the test
    local = _run_all(exp, "quick", 0, tmp_path / "local", quiet)
    remote = _run_all(exp, "quick", 0, tmp_path / "ray", quiet, on="ray")
    quiet.file.close()
    assert remote[0].values == local[0].values
    assert remote[0].verdict == local[0].verdict
    assert (tmp_path / "ray" / "design.regime_map.json").is_file()


def test_without_the_extra_the_error_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ArchlabError, match=r"archlab\[scale\]"), RayWorkers():
        pass
    with pytest.raises(SystemExit) as stop:
        archlab_main(["sim", "raft", "--seeds", "1-2", "--ops", "10", "--on", "ray"])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err.count("\n") == 1 and "pip install 'archlab[scale]'" in err


@pytest.mark.parametrize(
    ("text", "address"), [(None, None), ("local", None), ("ray", ""), ("ray=h:6379", "h:6379")]
)
def test_on_is_parsed(text: str | None, address: str | None) -> None:
    assert parse_on(text) == address


@pytest.mark.parametrize("text", ["spark", "ray=", "rayon"])
def test_a_bad_on_is_one_line(text: str) -> None:
    with pytest.raises(ConfigError, match="expected ray or ray=ADDRESS"):
        parse_on(text)
