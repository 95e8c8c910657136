"""Clients: histories with ok / fail / info, redirects, timeouts, late replies; workloads."""

from __future__ import annotations

import random
from collections.abc import Hashable
from typing import Any

from archlab.check.history import Recorder, pair
from archlab.sim.client import Client, Completion, Redirect
from archlab.sim.host import Host
from archlab.sim.kernel import Simulation
from archlab.sim.latency import Constant
from archlab.sim.network import LinkConfig, Network
from archlab.sim.process import Effect, NodeEnv, Op, Reply, Request, SetTimer
from archlab.sim.workload import (
    ListAppendWorkload,
    OpBudget,
    RegisterWorkload,
    RwRegisterWorkload,
)


class Server:
    """n0 redirects to n1; n1 answers writes at once, reads after 0.3 s, ignores cas."""

    def __init__(self, env: NodeEnv) -> None:
        self.me = env.address
        self.waiting: list[Request] = []

    def start(self, now: float) -> list[Effect]:
        return []

    def on_message(self, now: float, src: str, message: Any) -> list[Effect]:
        return []

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        request = self.waiting.pop(0)
        return [Reply(request, ("ok", "late value"))]

    def on_request(self, now: float, request: Request) -> list[Effect]:
        if self.me == "n0":
            return [Reply(request, ("redirect", "n1"))]
        if request.op.f == "write":
            return [Reply(request, ("ok", request.op.value))]
        if request.op.f == "read":
            self.waiting.append(request)
            return [SetTimer(len(self.waiting), 0.3)]
        return []


class Stub:
    def __init__(self) -> None:
        self.timeouts: list[str] = []

    def route(self, op: Op) -> str:
        return "n0"

    def timed_out(self, op: Op, target: str) -> None:
        self.timeouts.append(target)

    def interpret(self, op: Op, source: str, result: Any) -> Completion | Redirect:
        if result[0] == "redirect":
            return Redirect(result[1])
        return Completion("ok", result[1])


def run(ops: list[Op], timeout: float) -> list[Any]:
    sim = Simulation(seed=1)
    net = Network(sim, LinkConfig(latency=Constant(0.001)))
    for name in ("n0", "n1"):
        Host(sim, net, name, Server, ("n0", "n1")).boot()
    recorder = Recorder()
    script = iter(ops)

    class Scripted:
        def next_op(self, rng: random.Random, process: int) -> Op:
            return next(script)

    client = Client(
        sim,
        net,
        "c0",
        0,
        Stub(),
        OpBudget(Scripted(), len(ops)),
        recorder,
        timeout=timeout,
        think=Constant(0.0),
    )
    client.start()
    sim.run(until=5.0)
    assert client.done
    return [(e.type, e.f, e.value) for e in recorder.events]


def test_redirects_are_followed_and_completions_recorded() -> None:
    events = run([Op("write", None, 3)], timeout=1.0)
    assert events == [("invoke", "write", 3), ("ok", "write", 3)]


def test_a_request_that_times_out_is_info_and_its_late_reply_is_ignored() -> None:
    events = run([Op("read"), Op("write", None, 4)], timeout=0.1)
    assert events == [
        ("invoke", "read", None),
        ("info", "read", None),
        ("invoke", "write", 4),
        ("ok", "write", 4),
    ]


def test_an_unanswered_request_is_info_with_its_invoked_value() -> None:
    events = run([Op("cas", None, (1, 2))], timeout=0.2)
    assert events == [("invoke", "cas", (1, 2)), ("info", "cas", (1, 2))]


def test_a_slow_reply_within_the_deadline_completes() -> None:
    events = run([Op("read")], timeout=1.0)
    assert events[-1] == ("ok", "read", "late value")


def test_register_workload_draws_the_requested_mix() -> None:
    rng = random.Random(0)
    w = RegisterWorkload(reads=0.5, writes=0.25, cas=0.25, values=5)
    ops = [w.next_op(rng, 0) for _ in range(4000)]
    counts = {f: sum(1 for o in ops if o.f == f) for f in ("read", "write", "cas")}
    assert 1800 < counts["read"] < 2200 and 800 < counts["write"] < 1200
    assert all(0 <= o.value < 5 for o in ops if o.f == "write")
    assert all(len(o.value) == 2 for o in ops if o.f == "cas")
    keyed = RegisterWorkload(keys=("x", "y"))
    assert {keyed.next_op(rng, 0).key for _ in range(50)} == {"x", "y"}


def test_transactional_workloads_write_unique_values() -> None:
    rng = random.Random(1)
    for workload, write in ((ListAppendWorkload(), "append"), (RwRegisterWorkload(), "w")):
        written = [
            v for _ in range(300) for f, _, v in workload.next_op(rng, 0).value if f == write
        ]
        assert len(written) == len(set(written)) > 100


def test_budget_is_shared_and_runs_out() -> None:
    budget = OpBudget(RegisterWorkload(), 3)
    rng = random.Random(0)
    taken = [budget.take(rng, p) for p in (0, 1, 0, 1)]
    assert [t is not None for t in taken] == [True, True, True, False]


def test_simulated_histories_pair_up() -> None:
    events = run([Op("write", None, 1), Op("read"), Op("cas", None, (0, 1))], timeout=0.2)
    assert len(events) == 6
    recorder_events = Recorder()
    for kind, f, value in events:
        if kind == "invoke":
            recorder_events.invoke(0, f, value)
        else:
            recorder_events.complete(0, kind, f, value)
    operations = pair(recorder_events.events)
    assert [o.status for o in operations] == ["ok", "info", "info"]
