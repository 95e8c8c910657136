"""Helpers: run a txn scenario for one seed with the simulator's own machinery."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archlab.sim.nemesis import NemesisSpec
from archlab.sim.scenario import CheckOutcome, get_scenario, run_scenario
from archlab.sim.world import RunResult


def run(
    name: str, seed: int, nemesis: str = "", *, ops: int | None = None, **options: Any
) -> tuple[RunResult, CheckOutcome]:
    scenario = get_scenario(name)
    config = scenario.default_config()
    merged = dict(config.options)
    merged.update(options)
    config = replace(
        config,
        seed=seed,
        nemesis=NemesisSpec.parse(nemesis),
        options=tuple(sorted(merged.items())),
        ops=ops if ops is not None else config.ops,
    )
    result, outcome = run_scenario(scenario, config)
    assert outcome is not None
    return result, outcome
