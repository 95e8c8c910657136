"""Snapshot-isolation stores with a flaw, caught by ``archlab check isolation`` over a seed
sweep; the same stores without the flaw pass. Today's flaws are the two classes a checker that
forbids only G-single under snapshot isolation lets through: lost updates (no first committer
wins) and long forks (reads served from two snapshots that diverge)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from archlab.check.history import Event, dumps
from archlab.sim import brokensnapshots as broken
from archlab.sim.world import World
from tests.conftest import run_cli

KEYS = ("x", "y")


def snapshot_store(seed: int, *, flawed: bool) -> list[Event]:
    world = World(
        seed=seed,
        node_factory=broken.snapshot_store_factory(first_committer_wins=not flawed),
        stub_factory=broken.single_server_stubs(),
        workload=broken.ReadModifyWriteWorkload(KEYS),
        nodes=1,
        clients=4,
        ops=60,
    )
    return world.run().history


def forking_store(seed: int, *, flawed: bool) -> list[Event]:
    world = World(
        seed=seed,
        node_factory=broken.forking_store_factory(KEYS),
        stub_factory=broken.fork_stubs(KEYS),
        workload=broken.ForkWorkload(KEYS),
        nodes=2 if flawed else 1,
        clients=4,
        ops=60,
    )
    return world.run().history


STORES: dict[str, tuple[Callable[..., list[Event]], str, str]] = {
    "no first committer wins": (snapshot_store, "rw-register", "lost-update"),
    "reads from two snapshots": (forking_store, "list-append", "G-nonadjacent"),
}


def check(tmp_path: Path, events: list[Event], workload: str) -> tuple[int, dict[str, object]]:
    path = tmp_path / "history.jsonl"
    path.write_text(dumps(events))
    result = run_cli(
        [
            "check",
            "isolation",
            "--model",
            workload,
            "--consistency",
            "snapshot-isolation",
            "--json",
            str(path),
        ]
    )
    return result.exit_code, json.loads(result.stdout)


def sweep(tmp_path: Path, flaw: str, seeds: range, *, at_least: float) -> None:
    """The flawed store is caught in at least ``at_least`` of the seeds (a run can, by chance,
    hold no concurrent conflict), always with the flaw's anomaly; the fixed one always passes."""
    make, workload, kind = STORES[flaw]
    caught = 0
    for seed in seeds:
        code, report = check(tmp_path, make(seed, flawed=True), workload)
        if code == 1:
            caught += 1
            assert report["valid"] is False and kind in report["anomaly_kinds"], (seed, report)
            anomalies: list[dict[str, object]] = report["anomalies"]  # type: ignore[assignment]
            found = next(a for a in anomalies if a["kind"] == kind)
            assert found["forbidden"] and len(found["txns"]) >= 2  # type: ignore[arg-type]
        else:
            assert code == 0, (seed, report["reason"])
        code, report = check(tmp_path, make(seed, flawed=False), workload)
        assert code == 0 and report["valid"] is True, (seed, report["reason"])
    assert caught >= at_least * len(seeds), f"{flaw}: caught in {caught} of {len(seeds)} seeds"


@pytest.mark.parametrize("flaw", sorted(STORES))
def test_each_flaw_is_caught_and_its_fix_passes(tmp_path: Path, flaw: str) -> None:
    sweep(tmp_path, flaw, range(3), at_least=1.0)


@pytest.mark.slow
@pytest.mark.parametrize("flaw", sorted(STORES))
def test_each_flaw_is_caught_over_a_wide_sweep(tmp_path: Path, flaw: str) -> None:
    sweep(tmp_path, flaw, range(3, 53), at_least=0.9)
