"""Hosts and clocks: effects in order, the sync barrier, crash, restart, pause, local time."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import pytest

from archlab.sim.clock import NodeClock
from archlab.sim.host import Host
from archlab.sim.kernel import Simulation
from archlab.sim.latency import Constant
from archlab.sim.network import LinkConfig, Network
from archlab.sim.process import (
    Apply,
    CancelTimer,
    Effect,
    NodeEnv,
    Note,
    Reply,
    Request,
    Send,
    SetTimer,
    Sync,
)

Handler = Callable[["Scripted", float, Any], list[Effect]]


class Scripted:
    """A node whose reactions are given by the test; it logs every input it sees."""

    def __init__(self, env: NodeEnv, script: dict[str, Handler]) -> None:
        self.env = env
        self.script = script
        self.seen: list[tuple[str, float, Any]] = []

    def _react(self, kind: str, now: float, payload: Any) -> list[Effect]:
        self.seen.append((kind, now, payload))
        handler = self.script.get(kind)
        return handler(self, now, payload) if handler else []

    def start(self, now: float) -> list[Effect]:
        return self._react("start", now, self.env.incarnation)

    def on_message(self, now: float, src: str, message: Any) -> list[Effect]:
        return self._react("message", now, message)

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        return self._react("timer", now, key)

    def on_request(self, now: float, request: Request) -> list[Effect]:
        return self._react("request", now, request)


def cluster(
    script: dict[str, Handler], fsync: float = 0.0
) -> tuple[Simulation, Network, Host, list[tuple[float, Any]], list[Scripted]]:
    sim = Simulation(seed=3)
    net = Network(sim, LinkConfig(latency=Constant(0.001)))
    received: list[tuple[float, Any]] = []
    net.attach("peer", lambda src, msg: received.append((sim.now, msg)))
    nodes: list[Scripted] = []

    def factory(env: NodeEnv) -> Scripted:
        node = Scripted(env, script)
        nodes.append(node)
        return node

    host = Host(sim, net, "n0", factory, ("n0",), fsync_latency=Constant(fsync))
    return sim, net, host, received, nodes


def test_effects_run_in_order_and_timers_fire() -> None:
    script: dict[str, Handler] = {
        "start": lambda n, now, _: [Send("peer", "hello"), SetTimer("t", 0.5), Note("booted")],
        "timer": lambda n, now, key: [Send("peer", f"timer {key} at {now}")],
    }
    sim, _, host, received, _ = cluster(script)
    host.boot()
    sim.run()
    assert received == [(0.001, "hello"), (0.501, "timer t at 0.5")]
    assert sim.trace.of("note")[0][2] == {"node": "n0", "text": "booted"}


def test_setting_a_timer_again_replaces_it_and_cancel_removes_it() -> None:
    script: dict[str, Handler] = {
        "start": lambda n, now, _: [
            SetTimer("a", 1.0),
            SetTimer("a", 2.0),
            SetTimer("b", 0.5),
            CancelTimer("b"),
        ],
        "timer": lambda n, now, key: [Send("peer", (key, now))],
    }
    sim, _, host, received, _ = cluster(script)
    host.boot()
    sim.run()
    assert [m for _, m in received] == [("a", 2.0)]


def test_sync_is_a_barrier_for_later_effects() -> None:
    def start(node: Scripted, now: float, _: Any) -> list[Effect]:
        node.env.disk.append("log", b"vote")
        return [Sync(), Send("peer", "voted")]

    sim, _, host, received, _ = cluster({"start": start}, fsync=0.01)
    host.boot()
    sim.run()
    assert received == [(pytest.approx(0.011), "voted")]
    assert host.disk.durable_read("log") == b"vote"


def test_a_crash_during_a_sync_loses_the_write_and_the_message() -> None:
    def start(node: Scripted, now: float, incarnation: Any) -> list[Effect]:
        if incarnation:
            return []
        node.env.disk.append("log", b"vote")
        return [Sync(), Send("peer", "voted")]

    sim, _, host, received, nodes = cluster({"start": start}, fsync=0.01)
    host.boot()
    sim.at(0.005, host.crash)
    sim.run()
    assert received == []
    assert not host.disk.exists("log")
    host.restart()
    sim.run()
    assert nodes[-1].env.incarnation == 1 and host.status == "up"


def test_durable_restart_keeps_the_disk_and_volatile_restart_wipes_it() -> None:
    def start(node: Scripted, now: float, incarnation: Any) -> list[Effect]:
        node.env.disk.append("boots", b"x")
        return [Sync()]

    sim, _, host, _, _ = cluster({"start": start})
    host.boot()
    host.restart("durable")
    assert host.disk.read("boots") == b"xx"
    host.restart("volatile")
    assert host.disk.read("boots") == b"x"
    assert [r[1] for r in sim.trace.records] == [
        "boot",
        "crash",
        "restart",
        "boot",
        "crash",
        "restart",
        "boot",
    ]


def test_a_crashed_host_drops_messages_and_forgets_timers() -> None:
    script: dict[str, Handler] = {
        "start": lambda n, now, _: [SetTimer("t", 1.0)],
        "timer": lambda n, now, key: [Send("peer", "fired")],
    }
    sim, net, host, received, nodes = cluster(script)
    host.boot()
    sim.at(0.5, host.crash)
    sim.at(0.6, net.send, "peer", "n0", "while down")
    sim.run()
    assert received == []
    assert [k for k, *_ in nodes[0].seen] == ["start"]


def test_a_paused_host_queues_inputs_and_its_timers_fire_late() -> None:
    script: dict[str, Handler] = {
        "start": lambda n, now, _: [SetTimer("t", 0.2)],
        "timer": lambda n, now, key: [Send("peer", ("timer", now))],
        "message": lambda n, now, msg: [Send("peer", ("echo", msg, now))],
    }
    sim, net, host, received, _nodes = cluster(script)
    host.boot()
    sim.at(0.1, host.pause)
    sim.at(0.15, net.send, "peer", "n0", "m1")
    sim.at(0.25, net.send, "peer", "n0", "m2")
    sim.at(1.0, host.resume)
    sim.run()
    # Nothing was handled during the pause; on resume, inputs run in arrival order, late.
    assert [m for _, m in received] == [
        ("echo", "m1", 1.0),
        ("timer", 1.0),
        ("echo", "m2", 1.0),
    ]
    assert all(t >= 1.0 for t, _ in received)


def test_replies_go_back_to_the_requesting_client() -> None:
    script: dict[str, Handler] = {"request": lambda n, now, req: [Reply(req, ("ok", req.op))]}
    sim, net, host, _, _ = cluster(script)
    got: list[Any] = []
    net.attach("c0", lambda src, msg: got.append((src, msg)))
    host.boot()
    from archlab.sim.process import Op, Response

    net.send("c0", "n0", Request(7, "c0", Op("read")))
    sim.run()
    assert got == [("n0", Response(7, ("ok", Op("read"))))]


def test_apply_effects_are_recorded_and_conflicts_detected() -> None:
    script: dict[str, Handler] = {
        "start": lambda n, now, inc: [Apply(1, "set x 1"), Apply(2, "set x 2" if not inc else "X")],
    }
    _sim, _, host, _, _ = cluster(script)
    host.boot()
    host.restart()
    assert host.applied == {1: "set x 1", 2: "set x 2"}
    assert host.apply_conflicts == [(2, "set x 2", "X")]


def test_node_clock_offset_drift_and_steps() -> None:
    sim = Simulation()
    clock = NodeClock(sim, offset=0.5, drift=0.1)
    sim.at(10.0, lambda: None)
    sim.run()
    assert clock.now() == pytest.approx(0.5 + 11.0)
    assert clock.error() == pytest.approx(1.5)
    assert clock.true_delay(1.1) == pytest.approx(1.0)
    clock.step(-2.0)
    clock.set_drift(0.0)
    assert clock.now() == pytest.approx(9.5)
    sim.at(12.0, lambda: None)
    sim.run()
    assert clock.now() == pytest.approx(11.5)
    clock.reset()
    assert clock.now() == 12.0 and clock.error() == 0.0
    with pytest.raises(ValueError):
        clock.set_drift(-1.0)


def test_timers_follow_the_local_clock_rate() -> None:
    script: dict[str, Handler] = {
        "start": lambda n, now, _: [SetTimer("t", 1.0)],
        "timer": lambda n, now, key: [Send("peer", now)],
    }
    sim, _, host, received, _ = cluster(script)
    host.clock.set_drift(1.0)  # runs twice as fast: one local second is half a true second
    host.boot()
    sim.run()
    assert received[0][0] == pytest.approx(0.501)
    assert received[0][1] == pytest.approx(1.0)
