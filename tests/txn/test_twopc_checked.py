"""Two-phase commit under crashes, partitions and message faults: atomic, every seed.

Each run ends with the faults healed and a settling period; the durable logs must then show
every participant deciding alike, no commit without every yes vote, no commit the
coordinator's log does not know, nothing still in doubt; and the history must be strictly
serializable. The two deliberately broken variants must be caught.
"""

from __future__ import annotations

import pytest

from tests.txn.scenarios import run

FAULTS = "partition,crash,pause,loss,dup,reorder"


@pytest.mark.parametrize("seed", range(1, 21))
def test_two_phase_commit_is_atomic_and_strictly_serializable_under_faults(seed: int) -> None:
    result, outcome = run("twopc", seed, FAULTS, ops=200)
    assert outcome.valid is True, outcome.summary
    counts = result.stats["audit"]["counts"]
    assert counts["committed"] > 0 and counts["in_doubt"] == 0
    assert result.faults, "the nemesis must have done something"


def test_torn_writes_and_skewed_clocks_do_not_break_it() -> None:
    from dataclasses import replace

    from archlab.sim.nemesis import NemesisSpec
    from archlab.sim.scenario import get_scenario, run_scenario

    scenario = get_scenario("twopc")
    for seed in range(1, 6):
        config = replace(
            scenario.default_config(),
            seed=seed,
            ops=150,
            torn_writes=True,
            nemesis=NemesisSpec.parse("crash,clock-skew,partition"),
        )
        _, outcome = run_scenario(scenario, config)
        assert outcome is not None and outcome.valid is True, outcome.summary


def _atomicity_breaches(variant: str, seeds: range) -> list[str]:
    found = []
    for seed in seeds:
        result, _ = run("twopc", seed, "partition,crash,loss", ops=200, variant=variant)
        found += [v for v in result.stats["audit"]["violations"] if "but aborted at" in v]
    return found


def test_a_participant_that_aborts_alone_after_voting_yes_is_caught() -> None:
    breaches = _atomicity_breaches("unilateral-abort", range(1, 5))
    assert breaches, "a unilateral abort after a yes vote must split some transaction"


def test_a_coordinator_that_sends_before_persisting_is_caught() -> None:
    _, outcome = run("twopc", 10, "partition,crash,loss", ops=200, variant="no-decision-fsync")
    assert outcome.valid is False and "no coordinator's log" in outcome.summary
    # Across seeds the forgotten decision splits transactions: some participants committed,
    # the rest were told to abort by the presumption.
    assert _atomicity_breaches("no-decision-fsync", range(1, 12))
