"""The nemesis: specs, the faults it applies, what it records, and the final heal."""

from __future__ import annotations

from dataclasses import replace

import pytest

from archlab.errors import ConfigError
from archlab.sim.nemesis import FaultPlan, NemesisSpec
from archlab.sim.scenario import get_scenario
from archlab.sim.world import World


def world(nemesis: str, seed: int = 1, ops: int = 200, **spec: object) -> World:
    scenario = get_scenario("register")
    config = replace(
        scenario.default_config(), seed=seed, ops=ops, nemesis=NemesisSpec.parse(nemesis, **spec)
    )
    return scenario.build(config)


def test_spec_parsing_orders_kinds_and_rejects_unknown_ones() -> None:
    assert NemesisSpec.parse("crash,partition").faults == ("partition", "crash")
    assert NemesisSpec.parse("none").faults == ()
    assert NemesisSpec.parse("").text == "none"
    with pytest.raises(ConfigError, match="unknown fault 'meteor'"):
        NemesisSpec.parse("partition,meteor")
    with pytest.raises(ConfigError, match="probability"):
        NemesisSpec.parse("loss", loss=2.0)
    with pytest.raises(ConfigError, match="shape"):
        NemesisSpec.parse("partition", partitions=("wormhole",))
    with pytest.raises(ConfigError):
        NemesisSpec.parse("crash", interval=0.0)


def test_every_kind_is_applied_recorded_and_healed() -> None:
    kinds = "partition,crash,pause,loss,dup,reorder,clock-skew"
    w = world(kinds, ops=400)
    result = w.run()
    applied = {f.kind for f in result.faults}
    assert applied == set(kinds.split(","))
    faults = result.trace.of("fault")
    heals = result.trace.of("heal")
    assert len(faults) == len(result.faults) == len(heals)
    assert all(f.end is not None and f.end >= f.start for f in result.faults)
    # After the final heal nothing is left broken.
    assert w.network.blocked_links == []
    assert all(h.status == "up" for h in w.hosts.values())
    assert all(h.clock.error() == 0.0 for h in w.hosts.values())
    assert w.network.faults.loss == 0.0
    crashes = [r for r in result.trace.of("crash")]
    assert crashes, "a crash fault crashes a host"


def test_partition_shapes_block_the_links_they_claim() -> None:
    for shape in ("isolate", "majority", "one-way", "bridge"):
        w = world("")
        w.nemesis.plan(FaultPlan("partition", 0.05, 0.1, shape=shape))
        seen: list[list[tuple[str, str]]] = []
        w.sim.at(0.1, lambda w=w, seen=seen: seen.append(w.network.blocked_links))
        w.run()
        blocked = seen[0]
        assert blocked, shape
        label = w.nemesis.applied[0].label
        assert label.startswith(f"partition {shape}")
        if shape == "one-way":
            assert all((b, a) not in blocked for a, b in blocked)
        else:
            assert all((b, a) in blocked for a, b in blocked)
        if shape == "bridge":
            bridge = w.nemesis.applied[0].targets[0]
            assert all(bridge not in link for link in blocked)


def test_scripted_crash_with_volatile_restart_wipes_the_disk() -> None:
    w = world("")
    w.nemesis.plan(FaultPlan("crash", 0.05, 0.1, targets=("n1",), restart="volatile"))
    states: list[str] = []
    w.sim.at(0.1, lambda: states.append(w.hosts["n1"].status))
    result = w.run()
    assert states == ["crashed"]
    assert w.hosts["n1"].disk.stats.wipes == 1
    fault = result.faults[0]
    assert fault.targets == ("n1",) and "volatile" in fault.detail
    assert fault.end == pytest.approx(0.15)


def test_the_applied_schedule_is_a_function_of_the_seed() -> None:
    a = world("partition,crash,clock-skew", seed=5).run()
    b = world("partition,crash,clock-skew", seed=5).run()
    c = world("partition,crash,clock-skew", seed=6).run()
    assert [f.to_dict() for f in a.faults] == [f.to_dict() for f in b.faults]
    assert [f.to_dict() for f in a.faults] != [f.to_dict() for f in c.faults]


def test_membership_needs_a_scenario_that_supports_it() -> None:
    with pytest.raises(ConfigError, match="membership"):
        world("membership")


def test_membership_faults_call_the_scenarios_hook() -> None:
    from archlab.sim.register import RegisterConfig, RegisterStub, bootstrap, node_factory
    from archlab.sim.workload import RegisterWorkload

    calls: list[float] = []

    def change(w: World, rng: object) -> str:
        calls.append(w.sim.now)
        return f"removed n{len(calls)}"

    w = World(
        seed=2,
        node_factory=node_factory(RegisterConfig()),
        stub_factory=lambda servers, rng: RegisterStub(servers),
        workload=RegisterWorkload(),
        ops=300,
        nemesis=NemesisSpec.parse("membership", interval=0.2),
        membership=change,
        bootstrap=bootstrap,
    )
    result = w.run()
    assert calls and len(result.faults) == len(calls)
    assert result.faults[0].label == "membership removed n1"
    assert result.faults[0].start == result.faults[0].end == calls[0]
