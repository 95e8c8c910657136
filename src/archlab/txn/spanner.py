"""A Spanner-style store in the simulator: shards, time masters, skewed clocks (codex 5.2).

:func:`spanner_world` builds a :class:`~archlab.txn.world.SettlingWorld` running the
:mod:`archlab.txn.store` with TrueTime: ``shards`` servers that hold data and coordinate
transactions, plus one time master. Every shard's clock starts off by up to ``max_offset``
(TrueTime does not trust it: it corrects it at each sync) and drifts at a constant rate of up
to ``max_drift``; TrueTime assumes ``drift_bound``. While ``max_drift <= drift_bound`` every
interval contains the true time. ``rogue_drift`` makes one shard's clock drift faster than
the bound: the assumption broken on purpose.

:class:`TrueTimeProbe` samples, every ``every`` seconds of true time, each shard's
``TT.now()`` against the simulation's true time: how wide the intervals were (the sawtooth)
and how many missed the true time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archlab.check.history import Event
from archlab.randomness import RandomSource
from archlab.sim.latency import Distribution, Uniform
from archlab.sim.network import LinkConfig
from archlab.sim.process import Address, Op
from archlab.sim.workload import Workload
from archlab.sim.world import World
from archlab.txn.clocksync import TrueTimeConfig
from archlab.txn.store import StoreConfig, StoreNode, TxnStub, store_factory
from archlab.txn.twopc.audit import atomicity_violations, audit_logs, outcome_counts
from archlab.txn.twopc.messages import Micro
from archlab.txn.world import SettlingWorld


@dataclass(frozen=True)
class SpannerSetup:
    """The store's shape and its clocks (see the module docstring). Times in seconds."""

    shards: int = 3
    commit_wait: bool = True
    snapshot_reads: bool = True
    drift_bound: float = 6e-3
    sync_interval: float = 1.0
    master_epsilon: float = 0.0001
    max_offset: float = 0.05
    max_drift: float = 6e-3
    rogue_drift: float | None = None
    latency: Distribution = field(default_factory=lambda: Uniform(0.0005, 0.002))

    @property
    def servers(self) -> tuple[Address, ...]:
        return tuple(f"n{i}" for i in range(self.shards + 1))

    @property
    def shard_addresses(self) -> tuple[Address, ...]:
        return self.servers[: self.shards]

    @property
    def master(self) -> Address:
        return self.servers[-1]

    def store_config(self) -> StoreConfig:
        tt = TrueTimeConfig(
            masters=(self.master,),
            drift_bound=self.drift_bound,
            interval=self.sync_interval,
            master_epsilon=self.master_epsilon,
            commit_wait=self.commit_wait,
            snapshot_reads=self.snapshot_reads,
        )
        shards = self.shard_addresses
        return StoreConfig(shards=shards, coordinators=shards, truetime=tt)


class TrueTimeProbe:
    """Samples every shard's TrueTime against true time (see the module docstring)."""

    def __init__(self, world: World, shards: tuple[Address, ...], every: float = 0.01) -> None:
        self.world = world
        self.shards = shards
        self.every = every
        self.samples = 0
        self.misses = 0
        self.worst_miss = 0.0
        self.epsilons: list[float] = []
        #: (true time, epsilon) of the first shard, for drawing its sawtooth.
        self.trace: list[tuple[float, float]] = []

    def start(self) -> None:
        self.world.sim.after(self.every, self._sample)

    def _sample(self) -> None:
        world = self.world
        true_now = world.sim.now
        for address in self.shards:
            host = world.hosts[address]
            node = host.node
            if not isinstance(node, StoreNode) or node.truetime is None:
                continue
            if not node.truetime.synced:
                continue
            interval = node.truetime.now(host.clock.now())
            self.samples += 1
            self.epsilons.append(interval.epsilon)
            if address == self.shards[0]:
                self.trace.append((true_now, interval.epsilon))
            if not interval.contains(true_now):
                self.misses += 1
                miss = max(interval.earliest - true_now, true_now - interval.latest)
                self.worst_miss = max(self.worst_miss, miss)
        if not world.clients_done:
            world.sim.after(self.every, self._sample)

    @property
    def mean_epsilon(self) -> float:
        return sum(self.epsilons) / len(self.epsilons) if self.epsilons else 0.0


def spanner_world(
    seed: int,
    setup: SpannerSetup,
    workload: Workload,
    *,
    clients: int = 4,
    ops: int = 200,
    think: Distribution | None = None,
    settle: float = 0.5,
    **world_kwargs: Any,
) -> SettlingWorld:
    """The Spanner-style store of ``setup`` with skewed clocks (see the module docstring)."""
    config = setup.store_config()
    shards = setup.shard_addresses

    def audit(world: World) -> dict[str, Any]:
        disks = {a: h.disk for a, h in world.hosts.items()}
        logs = audit_logs(disks, config.shards, config.coordinators)
        stats = _coordinator_stats(world, shards)
        return {
            "violations": atomicity_violations(logs),
            "counts": outcome_counts(logs),
            **stats,
        }

    world = SettlingWorld(
        seed=seed,
        node_factory=store_factory(config),
        stub_factory=lambda servers, rng: TxnStub(shards, rng, empty=()),
        workload=workload,
        nodes=len(setup.servers),
        clients=clients,
        ops=ops,
        link=LinkConfig(latency=setup.latency),
        think=think or Uniform(0.0, 0.01),
        settle=settle,
        audit=audit,
        **world_kwargs,
    )
    rng = world.sim.rng("clocks")
    for index, address in enumerate(setup.servers):
        clock = world.hosts[address].clock
        if address == setup.master:
            # A master's reference is within the uncertainty it vouches for.
            clock.step(rng.uniform(-setup.master_epsilon, setup.master_epsilon) / 2)
            continue
        clock.step(rng.uniform(-setup.max_offset, setup.max_offset))
        drift = rng.uniform(-setup.max_drift, setup.max_drift)
        if setup.rogue_drift is not None and index == 0:
            drift = setup.rogue_drift
        clock.set_drift(drift)
    return world


def _coordinator_stats(world: World, shards: tuple[Address, ...]) -> dict[str, Any]:
    waits: list[float] = []
    epsilons: list[float] = []
    for address in shards:
        node = world.hosts[address].node
        if isinstance(node, StoreNode) and node.coordinator is not None:
            waits += node.coordinator.stats.commit_waits
            epsilons += node.coordinator.stats.commit_epsilons
    return {"commit_waits": waits, "commit_epsilons": epsilons}


def committed_latencies(history: list[Event], *, read_only: bool) -> list[float]:
    """Seconds from invoke to ``ok`` of committed transactions (read-only or read-write)."""
    started: dict[int | str, float] = {}
    latencies: list[float] = []
    for event in history:
        if event.type == "invoke":
            started[event.process] = event.time or 0.0
            continue
        begin = started.pop(event.process, None)
        if event.type != "ok" or begin is None:
            continue
        only_reads = all(f == "r" for f, _, _ in event.value)
        if only_reads == read_only:
            latencies.append((event.time or 0.0) - begin)
    return latencies


@dataclass
class SnapshotMix:
    """Half read-only transactions reading every key, half appends to one or two keys.

    The read-only ones are served at a timestamp without locks; they are where a missing
    commit wait shows: a read that starts after an append was acknowledged and misses it.
    """

    keys: tuple[str, ...] = ("x", "y", "z")
    read_only: float = 0.5
    _next: int = 0

    def next_op(self, rng: RandomSource, process: int) -> Op:
        if rng.random() < self.read_only:
            return Op("txn", None, tuple(("r", k, None) for k in self.keys))
        return Op("txn", None, self._appends(rng))

    def _appends(self, rng: RandomSource) -> tuple[Micro, ...]:
        micro: list[Micro] = []
        for key in rng.sample(self.keys, rng.randint(1, min(2, len(self.keys)))):
            self._next += 1
            micro.append(("append", key, self._next))
        return tuple(micro)


@dataclass
class SpreadAppends(SnapshotMix):
    """Appends only, over many keys: little lock contention, so latency is the protocol's."""

    keys: tuple[str, ...] = tuple(f"k{i}" for i in range(64))
    read_only: float = 0.0
