"""``archlab bench sim``: the kernel's events per second against SimPy, same models, same run.

Two message-passing models, each with N processes and a latency drawn per message from a
uniform distribution (the same ``random.Random`` draws in both simulators):

- ping-pong: N/2 pairs bounce a message back and forth;
- fan-out: one coordinator sends a message to each of the other N-1 processes, each replies,
  and when every reply is in, the next round starts.

The unit is a *model event*: one message delivered. Each model is written four ways, and the
report pairs them like with like:

- bare callbacks on both sides (the goal's pairing): archlab's
  :class:`~archlab.sim.kernel.Simulation` calls a function at the message's arrival time;
  SimPy schedules a ``Timeout`` per message whose callback does the same work (no process, no
  ``Store``);
- a protocol's way on both sides (reported, no goal): archlab's full stack (hosts running
  sans-IO nodes over the :class:`~archlab.sim.network.Network`, FIFO links, no tracing)
  against SimPy's idiom, generator processes blocked on a ``Store`` inbox, each message a
  ``Timeout`` whose callback puts it into the receiver's inbox;
- and, for reference only, archlab's callbacks against SimPy's processes (different models:
  the earlier version of this benchmark compared these, which flatters the kernel).

Systems alternate round by round; medians of the rounds and the spread of the paired ratios
are reported.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable
from typing import Any

from archlab.lab.bench import (
    BenchContext,
    BenchReport,
    Ratio,
    benchmark,
    interleaved,
    median,
    peer_available,
)
from archlab.lab.result import Column
from archlab.sim.host import Host
from archlab.sim.kernel import Simulation
from archlab.sim.latency import Uniform
from archlab.sim.network import LinkConfig, Network
from archlab.sim.process import Address, Effect, NodeEnv, NodeFactory, Request, Send
from archlab.sim.trace import Trace

LOW, HIGH = 0.001, 0.005

# -- the bare kernel --------------------------------------------------------------------------


def kernel_ping_pong(processes: int, messages: int, seed: int) -> int:
    """Ping-pong on kernel callbacks; returns the messages delivered."""
    sim = Simulation(seed, Trace(enabled=False))
    rng = random.Random(seed)
    delivered = 0
    pairs = max(1, processes // 2)
    per_pair = messages // pairs

    def deliver(pair: int, hops: int) -> None:
        nonlocal delivered
        delivered += 1
        if hops < per_pair:
            sim.after(LOW + (HIGH - LOW) * rng.random(), deliver, pair, hops + 1)

    for pair in range(pairs):
        sim.after(LOW + (HIGH - LOW) * rng.random(), deliver, pair, 1)
    sim.run()
    return delivered


def kernel_fan_out(processes: int, messages: int, seed: int) -> int:
    """Fan-out rounds on kernel callbacks; returns the messages delivered."""
    sim = Simulation(seed, Trace(enabled=False))
    rng = random.Random(seed)
    workers = max(1, processes - 1)
    rounds = max(1, messages // (2 * workers))
    state = {"delivered": 0, "replies": 0, "round": 0}

    def start_round() -> None:
        state["replies"] = 0
        for worker in range(workers):
            sim.after(LOW + (HIGH - LOW) * rng.random(), at_worker, worker)

    def at_worker(worker: int) -> None:
        state["delivered"] += 1
        sim.after(LOW + (HIGH - LOW) * rng.random(), at_coordinator, worker)

    def at_coordinator(worker: int) -> None:
        state["delivered"] += 1
        state["replies"] += 1
        if state["replies"] == workers:
            state["round"] += 1
            if state["round"] < rounds:
                start_round()

    start_round()
    sim.run()
    return state["delivered"]


# -- the full stack: hosts, sans-IO nodes, the network ------------------------------------------


class _PingNode:
    def __init__(self, env: NodeEnv, partner: Address, first: bool, limit: int) -> None:
        self.partner, self.first, self.limit = partner, first, limit
        self.received = 0

    def start(self, now: float) -> list[Effect]:
        return [Send(self.partner, 0)] if self.first else []

    def on_message(self, now: float, src: Address, message: Any) -> list[Effect]:
        self.received += 1
        return [Send(src, message + 1)] if message + 1 < self.limit else []

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        return []

    def on_request(self, now: float, request: Request) -> list[Effect]:
        return []


class _FanNode:
    def __init__(self, env: NodeEnv, rounds: int) -> None:
        self.me, self.peers, self.rounds = env.address, env.peers, rounds
        self.coordinator = env.address == env.peers[0]
        self.replies = 0
        self.round = 0

    def start(self, now: float) -> list[Effect]:
        return self._broadcast() if self.coordinator else []

    def _broadcast(self) -> list[Effect]:
        self.replies = 0
        return [Send(p, self.round) for p in self.peers[1:]]

    def on_message(self, now: float, src: Address, message: Any) -> list[Effect]:
        if not self.coordinator:
            return [Send(src, message)]
        self.replies += 1
        if self.replies == len(self.peers) - 1:
            self.round += 1
            if self.round < self.rounds:
                return self._broadcast()
        return []

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        return []

    def on_request(self, now: float, request: Request) -> list[Effect]:
        return []


def _stack(processes: int, seed: int) -> tuple[Simulation, Network, tuple[Address, ...]]:
    sim = Simulation(seed, Trace(enabled=False))
    network = Network(sim, LinkConfig(latency=Uniform(LOW, HIGH)), trace_messages=False)
    return sim, network, tuple(f"n{i}" for i in range(processes))


def _ping_factory(partner: Address, first: bool, limit: int) -> NodeFactory:
    def build(env: NodeEnv) -> _PingNode:
        return _PingNode(env, partner, first, limit)

    return build


def stack_ping_pong(processes: int, messages: int, seed: int) -> int:
    sim, network, names = _stack(max(2, processes), seed)
    pairs = len(names) // 2
    per_pair = messages // pairs
    hosts = []
    for i in range(pairs):
        a, b = names[2 * i], names[2 * i + 1]
        for me, partner, first in ((a, b, True), (b, a, False)):
            host = Host(
                sim,
                network,
                me,
                _ping_factory(partner, first, per_pair),
                (a, b),
            )
            hosts.append(host)
    for host in hosts:
        host.boot()
    sim.run()
    return network.stats.delivered


def stack_fan_out(processes: int, messages: int, seed: int) -> int:
    sim, network, names = _stack(max(2, processes), seed)
    rounds = max(1, messages // (2 * (len(names) - 1)))
    hosts = [Host(sim, network, name, lambda env: _FanNode(env, rounds), names) for name in names]
    for host in hosts:
        host.boot()
    sim.run()
    return network.stats.delivered


# -- SimPy ------------------------------------------------------------------------------------


def simpy_ping_pong(processes: int, messages: int, seed: int) -> int:
    import simpy

    env = simpy.Environment()
    rng = random.Random(seed)
    pairs = max(1, processes // 2)
    per_pair = messages // pairs
    counter = {"delivered": 0}

    def send(store: Any, message: int) -> None:
        timeout = env.timeout(LOW + (HIGH - LOW) * rng.random(), value=message)
        timeout.callbacks.append(lambda event: store.put(event.value))

    def node(inbox: Any, outbox: Any) -> Any:
        while True:
            message = yield inbox.get()
            counter["delivered"] += 1
            if message + 1 < per_pair:
                send(outbox, message + 1)

    for _ in range(pairs):
        a, b = simpy.Store(env), simpy.Store(env)
        env.process(node(a, b))
        env.process(node(b, a))
        send(a, 0)
    env.run()
    return counter["delivered"]


def simpy_fan_out(processes: int, messages: int, seed: int) -> int:
    import simpy

    env = simpy.Environment()
    rng = random.Random(seed)
    workers = max(1, processes - 1)
    rounds = max(1, messages // (2 * workers))
    counter = {"delivered": 0}
    coordinator_inbox = simpy.Store(env)
    inboxes = [simpy.Store(env) for _ in range(workers)]

    def send(store: Any, message: int) -> None:
        timeout = env.timeout(LOW + (HIGH - LOW) * rng.random(), value=message)
        timeout.callbacks.append(lambda event: store.put(event.value))

    def worker(inbox: Any) -> Any:
        while True:
            message = yield inbox.get()
            counter["delivered"] += 1
            send(coordinator_inbox, message)

    def coordinator() -> Any:
        for round_no in range(rounds):
            for inbox in inboxes:
                send(inbox, round_no)
            for _ in range(workers):
                yield coordinator_inbox.get()
                counter["delivered"] += 1

    for inbox in inboxes:
        env.process(worker(inbox))
    env.process(coordinator())
    env.run()
    return counter["delivered"]


def simpy_callbacks_ping_pong(processes: int, messages: int, seed: int) -> int:
    """Ping-pong on SimPy ``Timeout`` callbacks (no processes): the kernel's model in SimPy."""
    import simpy

    env = simpy.Environment()
    rng = random.Random(seed)
    pairs = max(1, processes // 2)
    per_pair = messages // pairs
    delivered = 0

    def deliver(event: Any) -> None:
        nonlocal delivered
        delivered += 1
        hops = event.value
        if hops < per_pair:
            env.timeout(LOW + (HIGH - LOW) * rng.random(), hops + 1).callbacks.append(deliver)

    for _ in range(pairs):
        env.timeout(LOW + (HIGH - LOW) * rng.random(), 1).callbacks.append(deliver)
    env.run()
    return delivered


def simpy_callbacks_fan_out(processes: int, messages: int, seed: int) -> int:
    """Fan-out rounds on SimPy ``Timeout`` callbacks (no processes)."""
    import simpy

    env = simpy.Environment()
    rng = random.Random(seed)
    workers = max(1, processes - 1)
    rounds = max(1, messages // (2 * workers))
    state = {"delivered": 0, "replies": 0, "round": 0}

    def start_round() -> None:
        state["replies"] = 0
        for worker in range(workers):
            env.timeout(LOW + (HIGH - LOW) * rng.random(), worker).callbacks.append(at_worker)

    def at_worker(event: Any) -> None:
        state["delivered"] += 1
        reply = env.timeout(LOW + (HIGH - LOW) * rng.random(), event.value)
        reply.callbacks.append(at_coordinator)

    def at_coordinator(event: Any) -> None:
        state["delivered"] += 1
        state["replies"] += 1
        if state["replies"] == workers:
            state["round"] += 1
            if state["round"] < rounds:
                start_round()

    start_round()
    env.run()
    return state["delivered"]


Model = Callable[[int, int, int], int]
MODELS: dict[str, dict[str, Model]] = {
    "ping-pong": {
        "archlab kernel": kernel_ping_pong,
        "simpy callbacks": simpy_callbacks_ping_pong,
        "archlab hosts+network": stack_ping_pong,
        "simpy processes": simpy_ping_pong,
    },
    "fan-out": {
        "archlab kernel": kernel_fan_out,
        "simpy callbacks": simpy_callbacks_fan_out,
        "archlab hosts+network": stack_fan_out,
        "simpy processes": simpy_fan_out,
    },
}
#: (label, archlab system, SimPy system, goal): the first pairing is like for like.
PAIRINGS: tuple[tuple[str, str, str, float | None], ...] = (
    ("kernel / SimPy, both bare callbacks", "archlab kernel", "simpy callbacks", 3.0),
    (
        "hosts+network / SimPy processes+Store, each a protocol's idiom",
        "archlab hosts+network",
        "simpy processes",
        None,
    ),
    (
        "kernel callbacks / SimPy processes (different models, reference only)",
        "archlab kernel",
        "simpy processes",
        None,
    ),
)


def _trial(model: Model, processes: int, messages: int, seed: int) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        delivered = model(processes, messages, seed)
        elapsed = time.perf_counter() - started
        return delivered / elapsed

    return run


@benchmark(
    name="sim",
    title="Simulation kernel vs SimPy",
    description="""Messages delivered per second in a ping-pong and a fan-out model with N
    processes, each model written the same way on both sides: bare callbacks (archlab's kernel
    vs SimPy Timeout callbacks, the goal's pairing) and a protocol's idiom (archlab's hosts +
    network vs SimPy processes on Store inboxes); interleaved rounds, medians and spreads.""",
)
def bench_sim(ctx: BenchContext) -> BenchReport:
    have_simpy = peer_available("simpy")
    sizes = (10, 1000) if not ctx.quick else (10, 200)
    messages = 20_000 if ctx.quick else 200_000
    rounds = 3 if ctx.quick else 5
    rows: list[dict[str, Any]] = []
    ratios: list[Ratio] = []
    for model_name, systems in MODELS.items():
        for processes in sizes:
            chosen = {k: v for k, v in systems.items() if have_simpy or not k.startswith("simpy")}
            trials = {
                name: _trial(fn, processes, messages, ctx.seed) for name, fn in chosen.items()
            }
            samples = interleaved(
                trials, rounds, ctx.progress, f"{model_name}, {processes} processes"
            )
            for name, values in samples.items():
                rows.append(
                    {
                        "model": model_name,
                        "processes": processes,
                        "system": name,
                        "events_per_s": round(median(values)),
                        "min": round(min(values)),
                        "max": round(max(values)),
                    }
                )
            for label, ours, peer, goal in PAIRINGS:
                ratios.append(
                    Ratio.of_rounds(
                        f"{label}, {model_name}, N={processes}",
                        samples[ours],
                        samples.get(peer),
                        goal=goal,
                    )
                )
    return BenchReport(
        columns=[
            Column("model"),
            Column("processes"),
            Column("system"),
            Column("events_per_s", "messages/s", "median over the rounds"),
            Column("min", "messages/s", "slowest round"),
            Column("max", "messages/s", "fastest round"),
        ],
        rows=rows,
        ratios=ratios,
        missing_peers=[] if have_simpy else ["simpy (pip install -e '.[peers]')"],
        notes=[
            f"{messages} messages per trial, latency uniform in [{LOW}, {HIGH}] s per message; "
            f"{rounds} interleaved rounds; ratios are the median and min–max of the per-round "
            "ratios. The goal (≥ 3x) is set on the like-for-like pairing, bare callbacks on "
            "both sides; the other pairings are reported without a goal."
        ],
    )
