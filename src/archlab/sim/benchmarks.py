"""``archlab bench sim``: the kernel's events per second against SimPy, same models, same run.

Two message-passing models, each with N processes and a latency drawn per message from a
uniform distribution (the same ``random.Random`` draws in both simulators):

- ping-pong: N/2 pairs bounce a message back and forth;
- fan-out: one coordinator sends a message to each of the other N-1 processes, each replies,
  and when every reply is in, the next round starts.

The unit is a *model event*: one message delivered. archlab runs each model twice: on the bare
kernel (:class:`~archlab.sim.kernel.Simulation` callbacks, the goal's subject) and through the
full stack the protocols use (hosts running sans-IO nodes over the
:class:`~archlab.sim.network.Network`, FIFO links, no tracing). SimPy runs the idiomatic
equivalent: processes blocked on a ``Store`` inbox, each message a ``Timeout`` whose callback
puts it into the receiver's inbox. Systems alternate round by round; medians are compared.
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
    ratio,
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


Model = Callable[[int, int, int], int]
MODELS: dict[str, dict[str, Model]] = {
    "ping-pong": {
        "archlab kernel": kernel_ping_pong,
        "archlab hosts+network": stack_ping_pong,
        "simpy": simpy_ping_pong,
    },
    "fan-out": {
        "archlab kernel": kernel_fan_out,
        "archlab hosts+network": stack_fan_out,
        "simpy": simpy_fan_out,
    },
}


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
    processes: archlab's kernel (and its full host + network stack) against SimPy running the
    equivalent model, interleaved in the same run.""",
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
            chosen = {k: v for k, v in systems.items() if k != "simpy" or have_simpy}
            trials = {
                name: _trial(fn, processes, messages, ctx.seed) for name, fn in chosen.items()
            }
            samples = interleaved(
                trials, rounds, ctx.progress, f"{model_name}, {processes} processes"
            )
            rates = {name: median(values) for name, values in samples.items()}
            for name, rate in rates.items():
                rows.append(
                    {
                        "model": model_name,
                        "processes": processes,
                        "system": name,
                        "events_per_s": round(rate),
                    }
                )
            peer = rates.get("simpy")
            ratios.append(
                Ratio(
                    f"kernel / SimPy, {model_name}, N={processes}",
                    ratio(rates["archlab kernel"], peer),
                    goal=3.0,
                )
            )
            ratios.append(
                Ratio(
                    f"hosts+network / SimPy, {model_name}, N={processes}",
                    ratio(rates["archlab hosts+network"], peer),
                )
            )
    return BenchReport(
        columns=[
            Column("model"),
            Column("processes"),
            Column("system"),
            Column("events_per_s", "messages/s"),
        ],
        rows=rows,
        ratios=ratios,
        missing_peers=[] if have_simpy else ["simpy (pip install -e '.[peers]')"],
        notes=[
            f"{messages} messages per trial, latency uniform in [{LOW}, {HIGH}] s per message; "
            f"median of {rounds} interleaved rounds."
        ],
    )
