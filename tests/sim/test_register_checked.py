"""Histories of the register under faults, checked for linearizability over many seeds.

The correct variant must pass every seed under every fault; the broken variant must be caught
within the seed budget of the default test run. The 1,000-seed sweep of the issue's "done
means" is the ``slow`` test at the end (``pytest -m slow``).
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from archlab.sim.nemesis import NemesisSpec
from archlab.sim.scenario import RunConfig, get_scenario, run_scenario
from archlab.sim.sweep import default_jobs, sweep

SCENARIO = get_scenario("register")


def configs(variant: str, seeds: range, faults: str, **changes: object) -> list[RunConfig]:
    nemesis = NemesisSpec.parse(faults, **changes.pop("spec", {}))  # type: ignore[arg-type]
    base = replace(
        SCENARIO.default_config(), nemesis=nemesis, options=(("variant", variant),), **changes
    )
    return [replace(base, seed=s) for s in seeds]


def verdicts(variant: str, seeds: range, faults: str, **changes: object) -> dict[int, object]:
    runs = sweep("register", configs(variant, seeds, faults, **changes), jobs=2)
    return {r.seed: r.valid for r in runs}


def test_correct_variant_is_linearizable_under_partitions_crashes_and_loss() -> None:
    found = verdicts("correct", range(60), "partition,crash,loss")
    assert set(found.values()) == {True}


@pytest.mark.parametrize(
    ("faults", "changes"),
    [
        ("pause,dup,reorder,clock-skew", {}),
        ("partition,crash", {"spec": {"restart": "volatile"}, "torn_writes": True}),
        (
            "partition,crash,pause,loss,dup,reorder,clock-skew",
            {"nodes": 5, "spec": {"restart": "mixed"}},
        ),
    ],
)
def test_correct_variant_survives_every_kind_of_fault(
    faults: str, changes: dict[str, object]
) -> None:
    found = verdicts("correct", range(12), faults, **changes)
    assert set(found.values()) == {True}


def test_correct_variant_stays_available_between_faults() -> None:
    result, outcome = run_scenario(
        SCENARIO, configs("correct", range(7, 8), "partition,crash,loss")[0]
    )
    ops = result.stats["ops"]
    assert outcome is not None and outcome.valid is True
    assert ops["ok"] + ops["fail"] > 0.8 * sum(ops.values())


def test_broken_variant_is_caught_within_the_default_seed_budget() -> None:
    found = verdicts("broken", range(10), "partition,crash,loss")
    caught = [seed for seed, valid in found.items() if valid is False]
    assert len(caught) >= 3, found


def test_regression_broken_seed_0_loses_an_acknowledged_value() -> None:
    """A seed a sweep found: replays to the same violation, with the checker's explanation."""
    config = configs("broken", range(0, 1), "partition,crash,loss")[0]
    _result, outcome = run_scenario(SCENARIO, config)
    assert outcome is not None and outcome.valid is False
    assert "cannot take effect" in outcome.summary
    assert outcome.highlight, "the timeline gets the operations that could not be placed"
    assert outcome.details["anomalies"][0]["kind"] == "not-linearizable"


@pytest.mark.slow
def test_a_thousand_seeds_of_the_correct_register_in_under_two_minutes() -> None:
    started = time.perf_counter()
    runs = list(
        sweep("register", configs("correct", range(1000), "partition,crash,loss"), default_jobs())
    )
    elapsed = time.perf_counter() - started
    assert len(runs) == 1000
    assert [r.seed for r in runs if r.valid is not True] == []
    assert elapsed < 120, f"took {elapsed:.1f} s"
