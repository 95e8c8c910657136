"""One measured run of a protocol: messages, fsyncs and latency per committed command (codex 5.3).

:func:`measure` runs the shared kv workload (``kv`` clients with sessions and leader redirects,
reads, writes and compare-and-sets over a few keys, every one a command in the log) against a
fault-free cluster of :class:`~.clusters.ClusterSpec`, closed-loop: ``clients`` clients, each
issuing its next operation as soon as the last one completes. Once the leader is settled (after
``warmup`` seconds) it counts, on every server, the messages sent to other servers (by kind)
and the fsyncs (``Sync`` effects), until the clients are done; and it takes each operation's
latency from the history. Per committed command means divided by the operations completed in
that window (``ok`` or ``fail``: a failed compare is committed too). The window opens
``settle`` seconds after the first leader is established (the clients have found it by then).

*Message delays* to commit are measured apart (:func:`message_delays`): with every link taking
exactly ``d`` and fsyncs taking no time, one client at a time, a command's latency is
``(2 + k)·d`` where ``k`` is the number of one-way server-to-server delays before the leader can
reply; ``k = 2`` is one round trip to a majority.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from archlab.check.history import Event
from archlab.consensus.comparison.clusters import ClusterSpec
from archlab.consensus.simclient import KVClientStub, kv_workload
from archlab.consensus.simhost import RunObserver
from archlab.sim.latency import Constant, Distribution, Uniform
from archlab.sim.network import LinkConfig
from archlab.sim.process import Address, Effects, Node, NodeEnv, NodeFactory, Request, Send, Sync
from archlab.sim.world import World

KEYS = ("k0", "k1", "k2", "k3")


@dataclass
class Tally:
    """What the servers did from :attr:`since` on (once a leader is known, plus ``settle``)."""

    servers: frozenset[Address]
    observer: RunObserver
    settle: float
    since: float | None = None
    messages: Counter[str] = field(default_factory=Counter)
    fsyncs: int = 0

    def count(self, now: float, effects: Effects) -> Effects:
        if self.since is None:
            if self.observer.leaders:
                self.since = now + self.settle
            return effects
        if now < self.since or effects is None:
            return effects
        listed = list(effects)
        for effect in listed:
            if type(effect) is Send and effect.dst in self.servers:
                self.messages[type(effect.message).__name__] += 1
            elif type(effect) is Sync:
                self.fsyncs += 1
        return listed


class CountingNode:
    """A host node that reports its effects to a :class:`Tally` (and changes nothing)."""

    def __init__(self, inner: Node, tally: Tally) -> None:
        self.inner = inner
        self.tally = tally

    def start(self, now: float) -> Effects:
        return self.tally.count(now, self.inner.start(now))

    def on_message(self, now: float, src: Address, message: Any) -> Effects:
        return self.tally.count(now, self.inner.on_message(now, src, message))

    def on_timer(self, now: float, key: Hashable) -> Effects:
        return self.tally.count(now, self.inner.on_timer(now, key))

    def on_request(self, now: float, request: Request) -> Effects:
        return self.tally.count(now, self.inner.on_request(now, request))


def counting(factory: NodeFactory, tally: Tally) -> NodeFactory:
    def build(env: NodeEnv) -> CountingNode:
        return CountingNode(factory(env), tally)

    return build


@dataclass(frozen=True)
class Measurement:
    protocol: str
    nodes: int
    batching: bool
    commands: int
    messages: dict[str, int]
    fsyncs: int
    latencies: tuple[float, ...]
    window: float

    @property
    def messages_per_command(self) -> float:
        return sum(self.messages.values()) / max(1, self.commands)

    @property
    def fsyncs_per_command(self) -> float:
        return self.fsyncs / max(1, self.commands)

    @property
    def commands_per_second(self) -> float:
        return self.commands / self.window if self.window > 0 else 0.0

    def latency_ms(self, quantile: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]


def _latencies(history: list[Event], since: float) -> tuple[list[float], int]:
    """Latencies of operations invoked after ``since``, and operations completed after it."""
    started: dict[int | str, float] = {}
    latencies: list[float] = []
    completed = 0
    for event in history:
        time = event.time if event.time is not None else 0.0
        if event.type == "invoke":
            started[event.process] = time
            continue
        begin = started.pop(event.process, None)
        if event.type in ("ok", "fail") and time >= since:
            completed += 1
            if begin is not None and begin >= since:
                latencies.append(time - begin)
    return latencies, completed


def measure(
    spec: ClusterSpec,
    *,
    seed: int,
    ops: int,
    clients: int,
    latency: Distribution | None = None,
    fsync: Distribution | None = None,
    settle: float = 0.05,
    keys: tuple[str, ...] = KEYS,
) -> Measurement:
    """Run ``ops`` operations on a fault-free cluster; see the module docstring."""
    servers = frozenset(f"n{i}" for i in range(spec.nodes))
    observer = RunObserver()
    tally = Tally(servers, observer, settle)
    world = World(
        seed=seed,
        node_factory=counting(spec.factory(observer), tally),
        stub_factory=KVClientStub,
        workload=kv_workload(keys),
        nodes=spec.nodes,
        clients=clients,
        ops=ops,
        link=LinkConfig(latency=latency or Uniform(0.001, 0.005)),
        fsync_latency=fsync or Constant(0.0005),
        client_timeout=1.0,
        think=Constant(0.0),
        bootstrap=spec.bootstrap,
        trace=False,
        trace_messages=False,
    )
    result = world.run(max_time=60.0)
    if observer.violations:
        raise AssertionError(f"{spec.protocol}: {observer.violations[0]}")
    since = tally.since if tally.since is not None else result.end_time
    latencies, completed = _latencies(result.history, since)
    return Measurement(
        protocol=spec.protocol,
        nodes=spec.nodes,
        batching=spec.batching,
        commands=completed,
        messages=dict(tally.messages),
        fsyncs=tally.fsyncs,
        latencies=tuple(latencies),
        window=max(0.0, result.end_time - since),
    )


def message_delays(spec: ClusterSpec, *, seed: int, ops: int = 40, delay: float = 0.002) -> float:
    """One-way server-to-server delays before the leader replies (see the module docstring)."""
    run = measure(
        spec,
        seed=seed,
        ops=ops,
        clients=1,
        latency=Constant(delay),
        fsync=Constant(0.0),
    )
    if not run.latencies:
        raise AssertionError(f"{spec.protocol}: no operation completed after the warm-up")
    return statistics.median(run.latencies) / delay - 2
