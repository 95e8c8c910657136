"""``archlab sim paxos`` and ``archlab sim zab``: histories under every fault, checked.

The default sweep of each: 100 seeds, 3 nodes, every fault of the nemesis but membership
(static membership: refused), each history checked for ``kv`` linearizability, agreement on
what the replicas applied (for Zab, agreement on delivered prefixes), the servers' invariants
and persist-before-send. The same sweep with the protocol's flaw (Multi-Paxos skipping phase 1
after a leader change, Zab without synchronization) must fail a seed; the first one it fails is
kept as a regression test. ``slow``: 10,000 seeds each.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from archlab.sim.nemesis import NemesisSpec
from archlab.sim.scenario import RunConfig, get_scenario, run_scenario
from archlab.sim.sweep import default_jobs, sweep
from tests.conftest import run_cli

FAULTS = "partition,crash,pause,loss,dup,reorder,clock-skew"
SWEEP_OPS = 150
PROTOCOLS = ["paxos", "zab"]
#: Each protocol's flaw, and the first seed of the default sweep that catches it.
FLAWS = [("paxos", "skip-phase1", 2), ("zab", "skip-sync", 1)]


def configs(
    protocol: str, seeds: range, faults: str = FAULTS, **changes: object
) -> list[RunConfig]:
    default = get_scenario(protocol).default_config()
    options = dict(default.options)
    options.update(changes.pop("options", {}))  # type: ignore[call-overload]
    spec = NemesisSpec.parse(faults, **changes.pop("spec", {}))  # type: ignore[arg-type]
    changes = {"ops": SWEEP_OPS, **changes}
    base = replace(default, nemesis=spec, options=tuple(sorted(options.items())), **changes)
    return [replace(base, seed=s) for s in seeds]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_default_sweep_is_linearizable_on_every_seed(protocol: str) -> None:
    reports = list(sweep(protocol, configs(protocol, range(1, 101)), jobs=2))
    assert [(r.seed, r.summary) for r in reports if r.valid is not True] == []
    ok = sum(r.ops["ok"] for r in reports)
    assert ok > 0.6 * SWEEP_OPS * len(reports)  # the cluster kept serving through the faults


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_five_nodes_with_wiped_disks_stay_linearizable(protocol: str) -> None:
    found = configs(protocol, range(1, 13), nodes=5, spec={"restart": "mixed"}, torn_writes=True)
    reports = list(sweep(protocol, found, jobs=2))
    assert [(r.seed, r.summary) for r in reports if r.valid is not True] == []


@pytest.mark.parametrize(("protocol", "flaw", "first_seed"), FLAWS)
def test_the_default_sweep_catches_the_flaw(protocol: str, flaw: str, first_seed: int) -> None:
    scenario = get_scenario(protocol)
    for config in configs(protocol, range(1, 101), options={"flaw": flaw}):
        _, outcome = run_scenario(scenario, config)
        assert outcome is not None
        if outcome.valid is False:
            assert config.seed == first_seed  # the regression seed below
            return
    pytest.fail(f"no seed of the default sweep caught {protocol} with --flaw {flaw}")


@pytest.mark.parametrize(("protocol", "flaw", "seed"), FLAWS)
def test_regression_seed(protocol: str, flaw: str, seed: int) -> None:
    scenario = get_scenario(protocol)
    config = configs(protocol, range(seed, seed + 1), options={"flaw": flaw})[0]
    _, outcome = run_scenario(scenario, config)
    assert outcome is not None and outcome.valid is False
    _, correct = run_scenario(scenario, configs(protocol, range(seed, seed + 1))[0])
    assert correct is not None and correct.valid is True


#: A leader whose clock runs slow (so it does not step down) is cut off while clients that still
#: believe in it read: the situation a read must survive without a log round trip.
SKEWED_LEADER: dict[str, object] = {
    "clients": 10,
    "ops": 1000,
    "client_timeout": 0.1,
    "options": {"leader_faults": "skew-isolate", "values": 100, "read_share": 0.9},
    "spec": {"max_skew": 0.0, "max_drift": 0.9, "interval": 0.2, "duration": 0.6},
}
#: The first seed of that sweep at which reads served without the quorum check go stale.
READ_FLAW_SEEDS = [("paxos", 8), ("zab", 12)]


def skewed(protocol: str, seeds: range, flaw: str = "none") -> list[RunConfig]:
    settings = {**SKEWED_LEADER, "options": {**SKEWED_LEADER["options"], "flaw": flaw}}  # type: ignore[dict-item]
    return configs(protocol, seeds, "none", **settings)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_quorum_reads_stay_linearizable_whatever_the_clocks_do(protocol: str) -> None:
    """Reads confirmed by a heartbeat round (no log entry) under clock drift of 0.9 and a
    leader cut off: nothing rests on a clock, so every seed stays linearizable."""
    reports = list(sweep(protocol, skewed(protocol, range(1, 5)), jobs=2))
    assert [(r.seed, r.summary) for r in reports if r.valid is not True] == []


@pytest.mark.parametrize(("protocol", "seed"), READ_FLAW_SEEDS)
def test_reads_without_the_quorum_check_go_stale(protocol: str, seed: int) -> None:
    scenario = get_scenario(protocol)
    _, broken = run_scenario(
        scenario, skewed(protocol, range(seed, seed + 1), "read-without-quorum")[0]
    )
    assert broken is not None and broken.valid is False and "read" in broken.summary
    _, correct = run_scenario(scenario, skewed(protocol, range(seed, seed + 1))[0])
    assert correct is not None and correct.valid is True


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_seed_replays_byte_for_byte(protocol: str) -> None:
    scenario = get_scenario(protocol)
    config = configs(protocol, range(5, 6))[0]
    first, _ = run_scenario(scenario, config, check=False)
    second, _ = run_scenario(scenario, config, check=False)
    assert first.history_text() == second.history_text()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_membership_faults_are_refused_with_a_clear_error(protocol: str) -> None:
    result = run_cli(["sim", protocol, "--seed", "1", "--nemesis", "membership"])
    assert result.exit_code == 2
    assert "membership" in result.stderr and protocol in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_unknown_flaw_is_refused_in_one_line(protocol: str) -> None:
    result = run_cli(["sim", protocol, "--seed", "1", "--flaw", "nope"])
    assert result.exit_code == 2 and "Traceback" not in result.stderr


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_command_reports_and_reproduces_a_seed(protocol: str) -> None:
    result = run_cli(["sim", protocol, "--seed", "3", "--ops", "60", "--nemesis", "partition"])
    assert result.exit_code == 0, result.stderr
    assert "linearizable" in result.stdout
    assert f"archlab sim {protocol} --seed 3" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_ten_thousand_seeds(protocol: str) -> None:
    reports = sweep(protocol, configs(protocol, range(1, 10_001)), jobs=default_jobs())
    assert [r.seed for r in reports if r.valid is not True] == []
