"""Sagas under faults: every saga ends all-or-nothing, exactly once, with money conserved."""

from __future__ import annotations

import pytest

from archlab.txn.saga.transfer import TransferSetup, observed_totals, transfer_world
from tests.txn.scenarios import run

FAULTS = "partition,crash,pause,loss,dup,reorder"


@pytest.mark.parametrize("design", ["orchestration", "choreography"])
@pytest.mark.parametrize("seed", range(1, 9))
def test_every_saga_commits_or_compensates_fully_under_faults(design: str, seed: int) -> None:
    result, outcome = run("saga", seed, FAULTS, design=design)
    assert outcome.valid is True, outcome.summary
    audit = result.stats["audit"]
    assert audit["committed"] > 0 and audit["compensated"] > 0
    assert audit["double_applied"] == 0 and audit["unfinished"] == 0


@pytest.mark.parametrize("design", ["orchestration", "choreography"])
def test_retries_without_idempotency_keys_double_apply_and_are_caught(design: str) -> None:
    result, outcome = run("saga", 1, "loss,dup", design=design, variant="no-idempotency")
    assert outcome.valid is False
    audit = result.stats["audit"]
    assert audit["double_applied"] > 0
    assert any(
        "applied 2 time(s)" in v or "compensated 2 time(s)" in v for v in audit["violations"]
    )


def test_an_observer_sees_intermediate_states_of_sagas_but_not_of_two_phase_commit() -> None:
    setup = TransferSetup(allowance=200)
    seen = {}
    for design in ("orchestration", "2pc"):
        world = transfer_world(1, setup, design, clients=4, ops=80)  # type: ignore[arg-type]
        result = world.run()
        assert not result.stats["audit"]["violations"]
        assert result.stats["audit"]["total"] == setup.total
        totals = observed_totals(result.history, setup)
        seen[design] = sum(1 for _, money in totals if money != setup.total)
        assert totals
    assert seen["orchestration"] > 0 and seen["2pc"] == 0


def test_a_saga_left_half_done_is_reported() -> None:
    from archlab.txn.saga.audit import saga_audit

    world = transfer_world(2, TransferSetup(), "orchestration", clients=2, ops=20)
    world.run()
    bank = world.hosts["n1"].node.bank  # type: ignore[union-attr]
    bank.applications["n0.0.999/0"] += 1  # a debit whose saga never went on
    bank.balances["b0.0"] -= 10
    audit = saga_audit(world, ("n1", "n2"), "n3", TransferSetup().total, steps=3)
    assert "saga n0.0.999 ended half-done: step(s) 0 in effect" in audit["violations"]
    assert any("the banks hold" in v for v in audit["violations"])


def test_regression_a_saga_whose_end_record_was_lost_is_ended_on_recovery() -> None:
    """Seed 75 crashed the orchestrator after a saga's last step but before its end record
    was durable; recovery ended it while iterating over the sagas it was resuming."""
    from dataclasses import replace

    from archlab.sim.nemesis import NemesisSpec
    from archlab.sim.scenario import get_scenario, run_scenario

    scenario = get_scenario("saga")
    config = replace(
        scenario.default_config(),
        seed=75,
        torn_writes=True,
        nemesis=NemesisSpec.parse("partition,crash,pause,loss,dup,reorder"),
    )
    _, outcome = run_scenario(scenario, config)
    assert outcome is not None and outcome.valid is True, outcome.summary
