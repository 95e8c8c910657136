"""``archlab sim raft``: one run, its determinism, its faults, its files and its bad input."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

from archlab.check.history import load
from archlab.consensus.raft.simstorage import DiskStorage
from archlab.consensus.simhost import ServerNode
from archlab.sim.nemesis import NemesisSpec
from archlab.sim.scenario import RunConfig, get_scenario, run_scenario
from tests.conftest import run_cli

ALL_FAULTS = "partition,crash,pause,loss,dup,reorder,clock-skew,membership"


def config(seed: int, nemesis: str = ALL_FAULTS, **options: object) -> RunConfig:
    scenario = get_scenario("raft")
    base = scenario.default_config()
    merged = {**dict(base.options), **options}
    return replace(
        base, seed=seed, nemesis=NemesisSpec.parse(nemesis), options=tuple(sorted(merged.items()))
    )


def test_a_run_is_a_function_of_its_seed() -> None:
    scenario = get_scenario("raft")
    first, _ = run_scenario(scenario, config(5), check=False)
    second, _ = run_scenario(scenario, config(5), check=False)
    assert first.history_text() == second.history_text()
    assert first.trace.dumps() == second.trace.dumps()
    other, _ = run_scenario(scenario, config(6), check=False)
    assert other.history_text() != first.history_text()


def test_a_faulty_run_exercises_the_mechanisms_and_stays_linearizable() -> None:
    scenario = get_scenario("raft")
    result, outcome = run_scenario(scenario, config(2, compact_after=16))
    assert outcome is not None and outcome.valid is True, outcome.summary
    kinds = Counter(f.kind for f in result.faults)
    assert set(kinds) >= {"partition", "crash", "pause", "membership", "clock-skew"}
    sent = Counter(type(fields["msg"]).__name__ for _, e, fields in result.trace if e == "send")
    assert sent["InstallSnapshot"] > 0, "a follower behind the compaction point got a snapshot"
    assert sent["ReadIndexRequest"] + sent["HeartbeatResponse"] > 0
    notes = [f["text"] for _, e, f in result.trace if e == "note"]
    assert any(n.startswith("membership:") and "proposed" in n for n in notes)
    assert result.stats["ops"]["ok"] > 100
    assert result.stats["consensus"]["violations"] == []


def test_membership_changes_add_the_spare_and_it_catches_up() -> None:
    scenario = get_scenario("raft")
    world = scenario.build(config(3, nemesis="membership"))
    result = world.run()
    servers = {}
    for address, host in world.hosts.items():
        node = host.node
        assert isinstance(node, ServerNode)
        servers[address] = node.server.node  # type: ignore[attr-defined]
    # Seed 3 ends with n3 (server 4) a voter in place of n2 (server 3), now a learner.
    assert all(sorted(s.conf.voters) == [1, 2, 4] for s in servers.values())
    assert servers["n3"].applied_index == servers["n0"].applied_index > 100
    notes = [f["text"] for _, e, f in result.trace if e == "note"]
    assert sum(n.startswith("membership:") and "proposed" in n for n in notes) >= 3


def test_founding_members_are_bootstrapped_and_spares_start_empty() -> None:
    scenario = get_scenario("raft")
    world = scenario.build(config(1, nemesis="none"))
    storages = {a: DiskStorage.open(h.disk) for a, h in world.hosts.items()}
    assert storages["n0"].snapshot().metadata.conf.voters == frozenset({1, 2, 3})
    assert storages["n3"].snapshot().metadata.conf.voters == frozenset()


def test_the_command_prints_verdict_and_reproduction_and_writes_the_history(
    tmp_path: Path,
) -> None:
    history = tmp_path / "h.jsonl"
    result = run_cli(
        ["sim", "raft", "--seed", "4", "--nemesis", "partition,crash", "--history", str(history)]
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "verdict: valid: linearizable (kv" in result.stdout
    assert "reproduce: archlab sim raft --seed 4 --nemesis partition,crash" in result.stdout
    events = load(history)
    assert {e.key for e in events} <= {"k0", "k1", "k2"} and len(events) == 600


def test_json_output_of_a_violation_is_valid_json() -> None:
    flaw = ["--flaw", "vote-without-log-check"]
    result = run_cli(["sim", "raft", "--seed", "1", "--nemesis", ALL_FAULTS, "--json", *flaw])
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["valid"] is False and "safety" in body["summary"]


def test_help_has_examples_and_the_scenario_options() -> None:
    result = run_cli(["sim", "raft", "--help"])
    assert result.exit_code == 0
    for text in ("Examples:", "--read-mode", "--flaw", "TESTING AID", "--leader-faults"):
        assert text in result.stdout


def test_bad_options_are_one_line_errors() -> None:
    for args, message in (
        (["--leader-faults", "explode"], "--leader-faults: unknown fault 'explode'"),
        (["--max-batch", "0"], "--max-batch and --compact-after must be at least 1"),
        (["--lease-drift-bound", "1.5"], "--lease-drift-bound must be in [0, 1)"),
        (["--spares", "-1"], "--spares must be >= 0"),
    ):
        result = run_cli(["sim", "raft", "--seed", "1", *args])
        assert result.exit_code == 2, args
        assert message in result.stderr and "Traceback" not in result.stderr
    bad_choice = run_cli(["sim", "raft", "--read-mode", "psychic"])
    assert bad_choice.exit_code == 2
