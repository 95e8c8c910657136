"""The runner: verdicts come from the judge over measured values; failures are recorded."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from archlab.lab import Context, Judgement, Outcome, holds, refuted, runner
from archlab.lab.registry import Experiment
from archlab.lab.result import Value


def ratio_judge(values: Mapping[str, Value]) -> Judgement:
    r = float(values["ratio"])  # type: ignore[arg-type]
    return holds(f"ratio {r:.1f}") if r >= 2 else refuted(f"ratio {r:.1f}")


def make_experiment(fn: object) -> Experiment:
    return Experiment(
        id="demo.ratio",
        section="7.1",
        title="t",
        claim="c",
        method="m",
        judge=ratio_judge,
        profiles={"quick": {"ratio": 3.0}, "full": {"ratio": 1.0}},
        run=fn,  # type: ignore[arg-type]
    )


def measure(ctx: Context) -> Outcome:
    (ctx.scratch / "file").write_text("data")
    return Outcome({"ratio": float(ctx.params["ratio"]), "seed": ctx.seed}, "measured")


def test_the_verdict_is_the_judges_over_the_values(tmp_path: Path) -> None:
    exp = make_experiment(measure)
    quick = runner.run(exp, profile="quick", scratch_root=tmp_path)
    full = runner.run(exp, profile="full", seed=9, scratch_root=tmp_path)
    assert (quick.verdict, quick.reason, quick.values["ratio"]) == ("holds", "ratio 3.0", 3.0)
    assert (full.verdict, full.values["seed"]) == ("refuted", 9)
    assert full.command == "archlab run demo.ratio --profile full --seed 9"


def test_overrides_are_part_of_the_reproduce_command(tmp_path: Path) -> None:
    result = runner.run(make_experiment(measure), overrides={"ratio": "1.5"}, scratch_root=tmp_path)
    assert result.verdict == "refuted"
    assert result.command.endswith("--set ratio=1.5")


def test_scratch_space_is_removed_afterwards(tmp_path: Path) -> None:
    runner.run(make_experiment(measure), scratch_root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_crashing_experiment_becomes_an_error_result(tmp_path: Path) -> None:
    def crash(ctx: Context) -> Outcome:
        raise RuntimeError("disk on fire")

    result = runner.run(make_experiment(crash), scratch_root=tmp_path)
    assert not result.ok and result.verdict is None
    assert result.error == "RuntimeError: disk on fire"
    assert "Traceback" in result.notes[0]
    with pytest.raises(RuntimeError):
        runner.run(make_experiment(crash), scratch_root=tmp_path, catch=False)


def test_rng_streams_are_reproducible_and_independent(tmp_path: Path) -> None:
    ctx = Context("demo.ratio", "quick", {}, 5, tmp_path)
    again = Context("demo.ratio", "quick", {}, 5, tmp_path)
    assert ctx.rng("a").random() == again.rng("a").random()
    assert ctx.rng("a").random() != ctx.rng("b").random()
