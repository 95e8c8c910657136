"""The network: latency, FIFO links, loss, duplication, reordering, partitions, heal."""

from __future__ import annotations

import random
import statistics
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from archlab.errors import ConfigError
from archlab.sim.kernel import Simulation
from archlab.sim.latency import Constant, LogNormal, Uniform, parse_latency
from archlab.sim.network import FaultOverlay, LinkConfig, Network


def make(
    config: LinkConfig | None = None, names: tuple[str, ...] = ("a", "b", "c", "d", "e")
) -> tuple[Simulation, Network, dict[str, list[tuple[float, str, Any]]]]:
    sim = Simulation(seed=1)
    net = Network(sim, config)
    inbox: dict[str, list[tuple[float, str, Any]]] = {n: [] for n in names}
    for name in names:
        net.attach(name, lambda src, msg, name=name: inbox[name].append((sim.now, src, msg)))
    return sim, net, inbox


def test_latency_distributions_stay_in_their_range() -> None:
    rng = random.Random(3)
    assert Constant(0.002).sample(rng) == 0.002
    uniform = [Uniform(0.001, 0.004).sample(rng) for _ in range(2000)]
    assert min(uniform) >= 0.001 and max(uniform) <= 0.004
    assert statistics.mean(uniform) == pytest.approx(0.0025, rel=0.05)
    lognormal = [LogNormal(0.003, 0.5).sample(rng) for _ in range(4000)]
    assert statistics.median(lognormal) == pytest.approx(0.003, rel=0.08)
    assert statistics.mean(lognormal) > statistics.median(lognormal)  # the heavy right tail


def test_latency_is_parsed_from_the_command_line_form() -> None:
    assert parse_latency("constant:2ms") == Constant(0.002)
    assert parse_latency("uniform:1ms,5ms") == Uniform(0.001, 0.005)
    assert parse_latency("lognormal:0.003,0.6") == LogNormal(0.003, 0.6)
    assert parse_latency(str(Uniform(0.001, 0.005))) == Uniform(0.001, 0.005)
    for bad in ("gaussian:1", "uniform:5ms", "uniform:5ms,1ms", "constant:-1", "constant:x"):
        with pytest.raises(ConfigError):
            parse_latency(bad)


def test_messages_arrive_after_the_link_latency() -> None:
    sim, net, inbox = make(LinkConfig(latency=Constant(0.01)))
    net.send("a", "b", "hello")
    sim.run()
    assert inbox["b"] == [(0.01, "a", "hello")]
    assert net.stats.sent == net.stats.delivered == 1


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.lists(st.floats(0, 0.01), min_size=2, max_size=40))
def test_a_link_without_reordering_is_fifo(seed: int, gaps: list[float]) -> None:
    sim = Simulation(seed=seed)
    net = Network(sim, LinkConfig(latency=LogNormal(0.005, 1.0)))
    got: list[int] = []
    net.attach("b", lambda src, msg: got.append(msg))
    for i, gap in enumerate(gaps):
        sim.at(sum(gaps[:i]) + gap, net.send, "a", "b", i)
    sim.run()
    assert got == list(range(len(gaps)))


def test_reordering_lets_later_messages_overtake() -> None:
    sim, net, inbox = make(LinkConfig(latency=Constant(0.001), reorder=0.5, reorder_delay=0.05))
    for i in range(200):
        sim.at(i * 0.0001, net.send, "a", "b", i)
    sim.run()
    order = [m for _, _, m in inbox["b"]]
    assert sorted(order) == list(range(200))
    assert order != sorted(order)
    assert net.stats.reordered > 50


def test_loss_and_duplication_happen_at_their_rates() -> None:
    sim, net, inbox = make(LinkConfig(latency=Constant(0.001), loss=0.3, duplicate=0.2))
    for i in range(5000):
        net.send("a", "b", i)
    sim.run()
    assert net.stats.lost / 5000 == pytest.approx(0.3, abs=0.03)
    assert net.stats.duplicated / (5000 - net.stats.lost) == pytest.approx(0.2, abs=0.03)
    received = [m for _, _, m in inbox["b"]]
    assert len(received) == 5000 - net.stats.lost + net.stats.duplicated


def test_symmetric_partition_blocks_both_ways_until_healed() -> None:
    sim, net, inbox = make()
    net.partition(["a", "b"], ["c", "d", "e"])
    net.send("a", "c", 1)
    net.send("c", "a", 2)
    net.send("a", "b", 3)
    net.send("c", "e", 4)
    sim.run()
    assert [m for *_, m in inbox["c"]] == [] and [m for *_, m in inbox["a"]] == []
    assert [m for *_, m in inbox["b"]] == [3] and [m for *_, m in inbox["e"]] == [4]
    net.heal()
    net.send("a", "c", 5)
    sim.run()
    assert [m for *_, m in inbox["c"]] == [5]


def test_one_way_partition_a_hears_b_but_b_does_not_hear_a() -> None:
    sim, net, inbox = make()
    net.block(["a"], ["b"])
    net.send("a", "b", "lost")
    net.send("b", "a", "heard")
    sim.run()
    assert inbox["b"] == [] and [m for *_, m in inbox["a"]] == ["heard"]


def test_bridge_node_sees_both_sides() -> None:
    sim, net, inbox = make()
    net.bridge(["a", "b"], "c", ["d", "e"])
    for src, dst in (("a", "d"), ("e", "b"), ("a", "c"), ("c", "e"), ("d", "c"), ("c", "b")):
        net.send(src, dst, f"{src}->{dst}")
    sim.run()
    got = {m for box in inbox.values() for *_, m in box}
    assert got == {"a->c", "c->e", "d->c", "c->b"}


def test_a_message_in_flight_when_a_partition_starts_is_lost() -> None:
    sim, net, inbox = make(LinkConfig(latency=Constant(0.01)))
    net.send("a", "b", "in flight")
    sim.at(0.005, net.partition, ["a"], ["b"])
    sim.run()
    assert inbox["b"] == [] and net.stats.partitioned == 1


def test_fault_overlay_applies_only_among_its_endpoints() -> None:
    sim, net, inbox = make(LinkConfig(latency=Constant(0.001)))
    net.set_faults(FaultOverlay(loss=1.0, among=frozenset({"a", "b"})))
    net.send("a", "b", "dropped")
    net.send("a", "c", "kept")
    sim.run()
    assert inbox["b"] == [] and [m for *_, m in inbox["c"]] == ["kept"]
    net.set_faults(FaultOverlay())
    net.send("a", "b", "after")
    sim.run()
    assert [m for *_, m in inbox["b"]] == ["after"]


def test_link_configuration_rejects_impossible_probabilities() -> None:
    with pytest.raises(ValueError):
        LinkConfig(loss=1.5)
