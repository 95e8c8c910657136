"""The archlab command: listings, runs, reports, and one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archlab.lab import Judgement, Outcome, registry
from archlab.lab.registry import Experiment
from tests.conftest import CliResult, run_cli, run_cli_process
from tests.lab.test_result import make_result


def assert_one_line_error(result: CliResult, *fragments: str) -> None:
    assert result.exit_code == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("archlab: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def fast_experiment(monkeypatch: pytest.MonkeyPatch) -> Experiment:
    """A registered experiment that measures instantly, so CLI tests stay quick."""

    def run(ctx: object) -> Outcome:
        from archlab.lab import Column, Figure, Series, Table

        n = int(ctx.params["n"])  # type: ignore[attr-defined]
        return Outcome(
            {"n": n},
            f"n={n}",
            [Table("t", [Column("n")], [[n]])],
            [Figure("line", series=[Series("s", [0.0, 1.0], [0.0, float(n)])])],
        )

    exp = Experiment(
        "zz.fast",
        "9.9",
        "Fast",
        "A fast claim.",
        "Nothing.",
        lambda v: Judgement("holds" if v["n"] else "refuted", f"n={v['n']}"),
        {"quick": {"n": 1}, "full": {"n": 2}},
        run,
        ranges={"n": (0, 9)},
    )
    monkeypatch.setitem(registry._REGISTRY, exp.id, exp)
    return exp


def test_help_teaches_with_examples() -> None:
    for args in (
        ["--help"],
        ["list", "--help"],
        ["run", "--help"],
        ["report", "--help"],
        ["bench", "--help"],
        ["compare", "--help"],
    ):
        result = run_cli(args)
        assert result.exit_code == 0
        assert "Usage:" in result.stdout
        if args != ["--help"]:
            assert "Examples:" in result.stdout and "archlab " in result.stdout


def test_list_json_has_id_section_claim() -> None:
    result = run_cli(["list", "--json"])
    data = json.loads(result.stdout)
    assert {"streaming.sequential_io", "streaming.zero_copy"} <= {d["id"] for d in data}
    assert all({"id", "section", "claim"} <= set(d) for d in data)


def test_list_filters_by_chapter() -> None:
    data = json.loads(run_cli(["list", "--chapter", "7", "--json"]).stdout)
    assert data and all(d["section"].startswith("7.") for d in data)
    assert json.loads(run_cli(["list", "--chapter", "1", "--json"]).stdout) == []


def test_run_json_prints_the_result(fast_experiment: Experiment, tmp_path: Path) -> None:
    result = run_cli(["run", "zz.fast", "--json", "--out", str(tmp_path), "--set", "n=0"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"id", "verdict", "summary", "tables"} <= set(data)
    assert (data["id"], data["verdict"], data["values"]) == ("zz.fast", "refuted", {"n": 0})
    assert (tmp_path / "zz.fast.json").exists()
    assert len(list((tmp_path / "zz.fast").glob("*.svg"))) == 1


def test_run_prints_tables_and_verdict(fast_experiment: Experiment, tmp_path: Path) -> None:
    result = run_cli(["run", "zz.fast", "--profile", "full", "--out", str(tmp_path)])
    assert result.exit_code == 0
    assert "holds" in result.stdout and "n=2" in result.stdout
    assert "archlab run zz.fast --profile full --seed 0" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["run", "no.such"], ["archlab: error: run: unknown experiment 'no.such'"]),
        (["run", "zz.fast", "--profile", "huge"], ["error: run: ", "--profile", "huge"]),
        (["run", "zz.fast", "--set", "m=1"], ["error: run: ", "no parameter 'm'"]),
        (["run", "zz.fast", "--set", "n=lots"], ["error: run: ", "expects int"]),
        (["run", "zz.fast", "--set", "novalue"], ["error: run: ", "NAME=VALUE"]),
        (["run", "zz.fast", "--set", "n=-5"], ["run: --set n=-5: parameter n", "between 0 and 9"]),
        (["run", "zz.fast", "--seed", "x"], ["archlab: error: run: invalid value for '--seed'"]),
        (["run"], ["archlab: error: run: missing argument 'ID' (see 'archlab run --help')"]),
        (["nosuchcommand"], ["archlab: error: no such command 'nosuchcommand'"]),
        (["report", "--only", "nothing.*"], ["error: report: ", "matches no experiment"]),
        (["list", "--chapter", "99"], ["error: list: ", "--chapter"]),
        (["bench", "nosuch"], ["archlab: error: bench: unknown benchmark 'nosuch'"]),
        (["cluster", "get"], ["archlab: error: cluster get: missing argument 'KEY'"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    fast_experiment: Experiment,
    args: list[str],
    fragments: list[str],
) -> None:
    assert_one_line_error(run_cli(args), *fragments)


def test_report_from_malformed_results_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{oops")
    result = run_cli(["report", "--from-results", str(tmp_path), "-o", str(tmp_path / "r.html")])
    assert_one_line_error(result, "broken.json", "invalid JSON")
    missing = run_cli(["report", "--from-results", str(tmp_path / "nope")])
    assert_one_line_error(missing, "no such results directory")


def test_report_from_results_rebuilds_the_page(tmp_path: Path) -> None:
    make_result().save(tmp_path / "res")
    out = tmp_path / "page.html"
    result = run_cli(["report", "--from-results", str(tmp_path / "res"), "-o", str(out)])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"report: {out.resolve()}"
    assert "demo.thing" in out.read_text()


def test_report_runs_selected_experiments_and_saves_each(
    fast_experiment: Experiment,
    tmp_path: Path,
) -> None:
    out = tmp_path / "r.html"
    result = run_cli(
        ["report", "--only", "zz.*", "-o", str(out), "--results-dir", str(tmp_path / "res")]
    )
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "res" / "zz.fast.json").exists()
    assert "A fast claim." in out.read_text()


def test_compare_shows_value_ratios(tmp_path: Path) -> None:
    make_result(values={"ratio": 2.0}).save(tmp_path / "a")
    make_result(values={"ratio": 3.0}, verdict="nuanced").save(tmp_path / "b")
    data = json.loads(
        run_cli(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json"]).stdout
    )
    assert data == [
        {
            "id": "demo.thing",
            "value": "ratio",
            "before": 2.0,
            "after": 3.0,
            "ratio": 1.5,
            "verdict_before": "holds",
            "verdict_after": "nuanced",
        }
    ]


def test_errors_in_a_real_process_are_one_line_without_traceback() -> None:
    result = run_cli_process(["run", "definitely.not.here"])
    assert_one_line_error(result, "unknown experiment")


def test_bench_without_a_name_lists_benchmarks() -> None:
    result = run_cli(["bench"])
    assert result.exit_code == 0 and "benchmarks" in result.stdout


def test_unknown_benchmark_suggests_only_close_matches() -> None:
    far = run_cli(["bench", "nosuchbench"])
    assert_one_line_error(far, "unknown benchmark 'nosuchbench'")
    assert "did you mean" not in far.stderr
    assert_one_line_error(run_cli(["bench", "stroage"]), "did you mean 'storage'")


def test_root_help_shows_whole_summaries() -> None:
    result = run_cli(["--help"])
    commands = " ".join(result.stdout.split("Commands:", 1)[1].split())
    assert "..." not in commands
    assert (
        "Compare two runs value by value (two result directories or two result files)." in commands
    )


def test_errors_raised_inside_a_command_name_it() -> None:
    from archlab.cli import invoked_command

    assert invoked_command(["cluster", "get", "x", "--dir", "d"]) == "archlab cluster get"
    assert invoked_command(["--help"]) == "archlab"
    assert invoked_command(["run", "--seed", "3", "zz"]) == "archlab run"


def test_list_shows_short_titles_and_long_shows_the_paragraphs() -> None:
    exp = registry.get("streaming.zero_copy")
    short = run_cli(["list", "--chapter", "7"])
    assert short.exit_code == 0
    assert exp.title in short.stdout and "archlab list --long" in short.stdout
    assert " ".join(exp.claim.split()[:4]) not in " ".join(short.stdout.split())
    long = run_cli(["list", "--chapter", "7", "--long"])
    assert " ".join(exp.claim.split()[:4]) in " ".join(long.stdout.split())


def test_list_of_a_chapter_without_experiments_says_so() -> None:
    from archlab.lab.chapters import CHAPTERS

    registry.discover()
    measured = {e.chapter for e in registry.all_experiments()}
    empty = next((c for c in sorted(CHAPTERS) if c not in measured), None)
    if empty is None:
        pytest.skip("every chapter has experiments")
    result = run_cli(["list", "--chapter", str(empty)])
    assert result.exit_code == 0
    assert result.stdout.startswith(f"chapter {empty} ({CHAPTERS[empty]}) has no")


def test_report_elsewhere_keeps_its_results_beside_it(
    fast_experiment: Experiment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli(["report", "--only", "zz.*", "-o", "other.html"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "other-results" / "zz.fast.json").exists()
    assert not (tmp_path / "results").exists()
    assert "replaced" not in result.stderr


def test_report_says_when_it_replaces_earlier_results(
    fast_experiment: Experiment, tmp_path: Path
) -> None:
    args = ["report", "--only", "zz.*", "-o", str(tmp_path / "r.html")]
    args += ["--results-dir", str(tmp_path / "res")]
    assert run_cli(args).exit_code == 0
    again = run_cli(args)
    assert again.exit_code == 0
    assert "replaced 1 earlier result file(s)" in " ".join(again.stderr.split())


@pytest.mark.parametrize("group", ["sim", "check", "cluster", "id", "design"])
def test_chapter_group_help_shows_whole_summaries(group: str) -> None:
    result = run_cli([group, "--help"])
    assert result.exit_code == 0
    commands = result.stdout.split("Commands:", 1)[1]
    assert not [line for line in commands.splitlines() if line.rstrip().endswith("...")]
