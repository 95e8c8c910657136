"""``archlab sim zab``: histories under every fault, checked; Zab without synchronization caught.

The default sweep: 100 seeds, 3 nodes, every fault of the nemesis but membership (static
membership: refused), each history checked for ``kv`` linearizability, agreement on what the
replicas applied (Zab's agreement on delivered prefixes), at most one leader established per
epoch and persist-before-send. ``slow``: 10,000 seeds.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from archlab.sim.nemesis import NemesisSpec
from archlab.sim.scenario import RunConfig, get_scenario, run_scenario
from archlab.sim.sweep import default_jobs, sweep
from tests.conftest import run_cli

SCENARIO = get_scenario("zab")
FAULTS = "partition,crash,pause,loss,dup,reorder,clock-skew"
SWEEP_OPS = 150


def configs(seeds: range, faults: str = FAULTS, **changes: object) -> list[RunConfig]:
    options = dict(SCENARIO.default_config().options)
    options.update(changes.pop("options", {}))  # type: ignore[call-overload]
    spec = NemesisSpec.parse(faults, **changes.pop("spec", {}))  # type: ignore[arg-type]
    base = replace(
        SCENARIO.default_config(),
        nemesis=spec,
        ops=SWEEP_OPS,
        options=tuple(sorted(options.items())),
        **changes,
    )
    return [replace(base, seed=s) for s in seeds]


def test_the_default_sweep_is_linearizable_on_every_seed() -> None:
    reports = list(sweep("zab", configs(range(1, 101)), jobs=2))
    assert [(r.seed, r.summary) for r in reports if r.valid is not True] == []
    ok = sum(r.ops["ok"] for r in reports)
    assert ok > 0.6 * SWEEP_OPS * len(reports)


def test_five_nodes_with_wiped_disks_stay_linearizable() -> None:
    found = configs(range(1, 13), nodes=5, spec={"restart": "mixed"}, torn_writes=True)
    reports = list(sweep("zab", found, jobs=2))
    assert [(r.seed, r.summary) for r in reports if r.valid is not True] == []


def test_the_default_sweep_catches_zab_without_synchronization() -> None:
    for config in configs(range(1, 101), options={"flaw": "skip-sync"}):
        _, outcome = run_scenario(SCENARIO, config)
        assert outcome is not None
        if outcome.valid is False:
            assert config.seed == 1  # the regression seed below
            return
    pytest.fail("no seed of the default sweep caught Zab without synchronization")


def test_regression_skip_sync_seed_1() -> None:
    config = configs(range(1, 2), options={"flaw": "skip-sync"})[0]
    _, outcome = run_scenario(SCENARIO, config)
    assert outcome is not None and outcome.valid is False
    _, correct = run_scenario(SCENARIO, configs(range(1, 2))[0])
    assert correct is not None and correct.valid is True


def test_a_seed_replays_byte_for_byte() -> None:
    config = configs(range(5, 6))[0]
    first, _ = run_scenario(SCENARIO, config, check=False)
    second, _ = run_scenario(SCENARIO, config, check=False)
    assert first.history_text() == second.history_text()


def test_membership_faults_are_refused_with_a_clear_error() -> None:
    result = run_cli(["sim", "zab", "--seed", "1", "--nemesis", "membership"])
    assert result.exit_code == 2
    assert "membership" in result.stderr and "zab" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_an_unknown_flaw_is_refused_in_one_line() -> None:
    result = run_cli(["sim", "zab", "--seed", "1", "--flaw", "nope"])
    assert result.exit_code == 2 and "Traceback" not in result.stderr


@pytest.mark.slow
def test_ten_thousand_seeds() -> None:
    reports = sweep("zab", configs(range(1, 10_001)), jobs=default_jobs())
    assert [r.seed for r in reports if r.valid is not True] == []
