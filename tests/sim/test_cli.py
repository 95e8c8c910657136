"""``archlab sim``: single runs, sweeps, files, JSON, exit codes and bad input."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from archlab.check.history import load
from tests.conftest import run_cli

BROKEN = ["sim", "register", "--variant", "broken", "--nemesis", "partition,crash,loss"]


def test_help_lists_scenarios_and_shows_examples() -> None:
    group = run_cli(["sim", "--help"])
    assert group.exit_code == 0 and "register" in group.stdout
    command = run_cli(["sim", "register", "--help"])
    assert command.exit_code == 0
    for text in ("Examples:", "--seeds", "--nemesis", "--variant", "--timeline", "--jobs"):
        assert text in command.stdout


def test_a_valid_run_prints_its_faults_verdict_and_reproduction() -> None:
    result = run_cli(["sim", "register", "--seed", "3", "--nemesis", "partition,crash"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "register seed 3: 300 ops" in out
    assert "fault" in out and "verdict: valid: linearizable" in out
    assert "reproduce: archlab sim register --seed 3 --nemesis partition,crash" in out


def test_a_violation_exits_1_and_its_command_replays_the_same_history(tmp_path: Path) -> None:
    first = tmp_path / "first.jsonl"
    result = run_cli([*BROKEN, "--seed", "0", "--history", str(first)])
    assert result.exit_code == 1
    assert "verdict: VIOLATION: NOT linearizable" in result.stdout
    command = next(
        line.removeprefix("reproduce: ")
        for line in result.stdout.splitlines()
        if line.startswith("reproduce:")
    )
    again = tmp_path / "again.jsonl"
    replay = run_cli([*shlex.split(command)[1:], "--history", str(again)])
    assert replay.exit_code == 1
    assert first.read_bytes() == again.read_bytes()
    assert len(load(first)) == 600


def test_a_sweep_prints_every_seed_and_reports_the_failing_ones(tmp_path: Path) -> None:
    result = run_cli(
        [*BROKEN, "--seeds", "0-5", "--jobs", "2", "--history", str(tmp_path / "h.jsonl")]
    )
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    seeds = [line for line in lines if line.startswith("seed ")]
    assert len(seeds) == 6
    assert all("archlab sim register --variant broken --seed" in line for line in seeds)
    assert any(line.startswith("6 seeds in") for line in lines)
    failing = [line for line in lines if line.startswith("VIOLATION seed")]
    assert failing
    # Histories are written for the failing seeds only, with the seed in the name.
    written = sorted(p.name for p in tmp_path.iterdir())
    assert len(written) == len(failing)
    assert all(name.startswith("h-seed") for name in written)


def test_a_clean_sweep_exits_0() -> None:
    result = run_cli(["sim", "register", "--seeds", "1-4", "--jobs", "1", "--nemesis", "crash"])
    assert result.exit_code == 0, result.stdout
    assert "4 seeds in" in result.stdout and "4 valid, 0 violations" in result.stdout


def test_json_output_for_a_run_and_a_sweep() -> None:
    single = run_cli([*BROKEN, "--seed", "0", "--json"])
    data = json.loads(single.stdout)
    assert data["valid"] is False and data["seed"] == 0
    assert data["check"]["anomalies"] and data["faults"]
    assert data["command"].startswith("archlab sim register --variant broken --seed 0")
    sweep = run_cli([*BROKEN, "--seeds", "0-3", "--jobs", "1", "--json"])
    summary = json.loads(sweep.stdout)
    assert summary["seeds"] == 4 and len(summary["runs"]) == 4
    assert summary["violations"] and sweep.exit_code == 1


def test_trace_file_records_the_applied_faults(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    result = run_cli(
        ["sim", "register", "--seed", "2", "--nemesis", "partition", "--trace", str(trace)]
    )
    assert result.exit_code == 0
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    faults = [r for r in records if r["event"] == "fault"]
    assert faults and all(r["kind"] == "partition" for r in faults)
    assert {r["event"] for r in records} >= {"boot", "send", "fault", "heal", "end"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seeds", "9-2"], "runs backwards"),
        (["--nemesis", "meteor"], "unknown fault 'meteor'"),
        (["--latency", "normal:3"], "--latency"),
        (["--seed", "1", "--seeds", "1-2"], "either --seed or --seeds"),
        (["--variant", "sloppy"], "--variant"),
        (["--nemesis", "membership"], "membership"),
        (["--loss", "1.5"], "--loss"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run_cli(["sim", "register", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_unknown_scenario_is_exit_2() -> None:
    result = run_cli(["sim", "paxos-by-mail"])
    assert result.exit_code == 2


def test_timeline_draws_the_history_with_faults_and_verdict(tmp_path: Path) -> None:
    page = tmp_path / "t.html"
    result = run_cli([*BROKEN, "--seed", "0", "--timeline", str(page)])
    assert result.exit_code == 1
    html = page.read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    assert "crash n2 (durable restart)" in html and "partition isolate" in html
    assert "NOT linearizable" in html
    assert "archlab sim register --variant broken --seed 0" in html
    assert "<script src=" not in html and "<link " not in html  # self-contained


def test_help_groups_the_options_and_describes_every_one() -> None:
    import click

    from archlab.cli import cli
    from archlab.sim.scenario import all_scenarios

    ctx = click.Context(cli)
    group = cli.get_command(ctx, "sim")
    assert isinstance(group, click.Group)
    for scenario in all_scenarios():
        command = group.get_command(ctx, scenario.name)
        assert command is not None
        undescribed = [p.name for p in command.params if isinstance(p, click.Option) and not p.help]
        assert undescribed == [], (scenario.name, undescribed)
    out = run_cli(["sim", "register", "--help"]).stdout
    headings = [line for line in out.splitlines() if line.endswith(":") and line[:1].isupper()]
    assert headings == [
        "Options of register:",
        "Runs:",
        "Cluster and workload:",
        "Faults (the nemesis):",
        "Network and disk:",
        "Output:",
        "Other options:",
    ]


def test_sweep_lines_stay_aligned_past_seed_9() -> None:
    result = run_cli(["sim", "register", "--seeds", "8-11", "--ops", "40", "--jobs", "1"])
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("seed ")]
    assert len(lines) == 4
    for marker in (":", "ok/fail/info", "faults", "archlab sim"):
        assert len({line.index(marker) for line in lines}) == 1, (marker, lines)


def test_an_output_file_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "nonexistent" / "dir" / "h.jsonl"
    result = run_cli(["sim", "register", "--seed", "1", "--history", str(target)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"archlab: error: sim register: --history {target}: the directory "
        f"{target.parent} does not exist"
    ]
    assert not (tmp_path / "nonexistent").exists()
