"""Editors through the simulated network with faults: the sweep passes, broken twins are caught."""

from __future__ import annotations

import pytest

from archlab.collab.simulate import CollabConfig, check, run, sweep
from archlab.errors import ConfigError


@pytest.mark.parametrize("mode", ["crdt", "ot"])
def test_seed_sweep_converges_under_loss_duplication_reordering_and_offline_periods(
    mode: str,
) -> None:
    cfg = CollabConfig(mode=mode, loss=0.1, duplicate=0.1, reorder=0.2, offline_periods=3)  # type: ignore[arg-type]
    assert sweep(cfg, range(30)) == []


@pytest.mark.parametrize(
    ("mode", "variant", "symptom"),
    [
        ("ot", "tie-broken", "replicas disagree"),
        ("crdt", "non-idempotent", "edit counters"),
    ],
)
def test_the_sweep_catches_each_broken_variant(mode: str, variant: str, symptom: str) -> None:
    cfg = CollabConfig(mode=mode, variant=variant, settle_limit=3.0)  # type: ignore[arg-type]
    failures = sweep(cfg, range(20), stop_at_first=True)
    assert failures, f"{variant} slipped through 20 seeds"
    assert any(symptom in p for p in failures[0][1])


def test_ot_edits_stall_while_the_server_is_away_and_crdt_edits_spread() -> None:
    window = (1.0, 2.0)
    ot = run(CollabConfig(mode="ot", server_outage=window, offline_periods=0))
    crdt = run(CollabConfig(mode="crdt", server_outage=window, offline_periods=0))
    assert ot.outage_edits > 0 and ot.outage_visible == 0
    assert crdt.outage_edits > 0 and crdt.outage_visible >= 0.8 * crdt.outage_edits
    assert check(ot) == [] and check(crdt) == []
    assert ot.settle_time is not None and crdt.settle_time is not None


def test_tombstones_are_collected_once_every_replica_has_seen_the_deletion() -> None:
    result = run(CollabConfig(mode="crdt", edit_time=3.0))
    assert check(result) == [] and result.tombstones_collected > 0


def test_a_bad_configuration_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="variant 'tie-broken' unknown"):
        CollabConfig(mode="crdt", variant="tie-broken")
