"""The scenario registry, seed ranges, and reproduction commands that rebuild their config."""

from __future__ import annotations

import shlex
from dataclasses import replace
from typing import ClassVar

import pytest

from archlab.errors import ConfigError, UnknownNameError
from archlab.sim.cli import config_from, scenario_command
from archlab.sim.latency import LogNormal
from archlab.sim.nemesis import NemesisSpec
from archlab.sim.scenario import (
    RunConfig,
    Scenario,
    all_scenarios,
    get_scenario,
    parse_seeds,
    register_scenario,
    reproduce_command,
)
from archlab.sim.world import World


def test_register_is_discovered_and_unknown_names_are_reported() -> None:
    assert "register" in [s.name for s in all_scenarios()]
    with pytest.raises(UnknownNameError, match="did you mean 'register'"):
        get_scenario("registr")


def test_other_packages_can_register_scenarios(monkeypatch: pytest.MonkeyPatch) -> None:
    from archlab.sim import scenario as registry

    monkeypatch.setattr(registry, "_SCENARIOS", dict(registry._SCENARIOS))

    @register_scenario
    class Echo(Scenario):
        name = "test-echo"
        summary = "a scenario registered by a test"
        defaults: ClassVar[dict[str, int]] = {"nodes": 5}

        def build(self, config: RunConfig) -> World:
            return get_scenario("register").build(config)

    assert get_scenario("test-echo").default_config().nodes == 5
    with pytest.raises(ValueError, match="registered twice"):

        @register_scenario
        class Other(Scenario):
            name = "test-echo"
            summary = "clash"

            def build(self, config: RunConfig) -> World:
                raise AssertionError


def test_seed_ranges() -> None:
    assert parse_seeds("7") == [7]
    assert parse_seeds("1-3,9,11-12") == [1, 2, 3, 9, 11, 12]
    for bad in ("", "x", "5-2", "1-b"):
        with pytest.raises(ConfigError):
            parse_seeds(bad)


def _parse(command: str) -> RunConfig:
    """What the CLI builds from a reproduction command."""
    args = shlex.split(command)
    assert args[:3] == ["archlab", "sim", "register"]
    scenario = get_scenario("register")
    ctx = scenario_command(scenario).make_context("register", args[3:])
    return replace(config_from(scenario, dict(ctx.params)), seed=ctx.params["seed"] or 0)


def test_the_reproduction_command_rebuilds_exactly_the_config() -> None:
    scenario = get_scenario("register")
    base = scenario.default_config()
    assert reproduce_command(scenario, base) == "archlab sim register --seed 0"
    configs = [
        replace(base, seed=12),
        replace(
            base,
            seed=99,
            nodes=5,
            ops=40,
            clients=3,
            latency=LogNormal(0.002, 0.7),
            torn_writes=True,
            client_timeout=2.0,
            options=(("variant", "broken"),),
            nemesis=NemesisSpec.parse(
                "partition,crash,clock-skew",
                interval=0.25,
                loss=0.5,
                restart="mixed",
                partitions=("one-way", "bridge"),
                max_skew=1.5,
            ),
        ),
    ]
    for config in configs:
        command = reproduce_command(scenario, config)
        assert _parse(command) == config, command


def test_bad_options_are_config_errors() -> None:
    scenario = get_scenario("register")
    base = {p.name: p.default for p in scenario_command(scenario).params if p.name is not None}
    with pytest.raises(ConfigError, match="--latency"):
        config_from(scenario, {**base, "latency": "normal:1"})
    with pytest.raises(ConfigError, match="membership"):
        config_from(scenario, {**base, "nemesis": "membership"})


def test_the_default_check_fails_a_run_whose_replicas_applied_different_commands() -> None:
    scenario = get_scenario("register")
    config = replace(scenario.default_config(), ops=20)
    result = scenario.build(config).run()
    assert scenario.check(result, config).valid is True
    result.apply_conflicts["n1"] = [(3, "set x 1", "set x 2")]
    outcome = scenario.check(result, config)
    assert outcome.valid is False
    assert outcome.summary == "n1 applied 'set x 2' at index 3 after applying 'set x 1'"
