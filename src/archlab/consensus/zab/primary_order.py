"""A workload and a fault schedule under which Zab's primary order matters (codex 5.3).

- :class:`ChainWorkload`: *dependent writes*. Client *p* walks its own key through
  ``write 0``, ``cas 0→1``, ``cas 1→2`` ... — each write is valid only after the one before it
  — with a read of some client's key every third operation. A replica that delivers
  ``cas 1→2`` without ``cas 0→1`` before it fails the compare where the others succeeded, and
  from then on holds a different value.
- :class:`LeaderCrasher`: every ``every`` seconds it crashes the *established leader* — in the
  middle of broadcasting, as the clients keep it busy — and restarts it from its disk
  ``down`` seconds later; meanwhile the nemesis isolates single followers, so some miss
  committed transactions and must be brought up to date by the next leader.
- :func:`run_once` runs that world with an :class:`~archlab.consensus.zab.order.OrderChecker`
  attached to every server, then checks the history (``kv`` linearizability) and the replicas'
  agreement, and returns all of it as a :class:`PrimaryOrderRun`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archlab.check.linearizability import check_linearizable
from archlab.consensus.replica import ReplicaOptions
from archlab.consensus.simclient import KVClientStub
from archlab.consensus.simhost import RunObserver, ServerNode
from archlab.consensus.zab.config import Flaws, ZabConfig
from archlab.consensus.zab.order import OrderChecker
from archlab.consensus.zab.simnode import SimZab
from archlab.randomness import RandomSource
from archlab.sim.latency import Uniform
from archlab.sim.nemesis import NemesisSpec
from archlab.sim.network import LinkConfig
from archlab.sim.process import Op
from archlab.sim.world import World


@dataclass
class ChainWorkload:
    """Dependent writes, one chain per client (see the module docstring)."""

    clients: int
    _next: dict[int, int] = field(default_factory=dict)
    _count: dict[int, int] = field(default_factory=dict)

    def next_op(self, rng: RandomSource, process: int) -> Op:
        count = self._count.get(process, 0)
        self._count[process] = count + 1
        if count % 3 == 2:
            return Op("read", f"chain{rng.randrange(self.clients)}", None)
        key = f"chain{process}"
        step = self._next.get(process, 0)
        self._next[process] = step + 1
        if step == 0:
            return Op("write", key, 0)
        return Op("cas", key, (step - 1, step))


class LeaderCrasher:
    """Crashes the established leader every ``every`` seconds for ``down`` seconds."""

    def __init__(self, world: World, every: float, down: float) -> None:
        self.world = world
        self.every = every
        self.down = down
        self.crashes = 0
        world.sim.after(every, self._strike)

    def _strike(self) -> None:
        if self.world.clients_done:
            return
        for host in self.world.hosts.values():
            node = host.node
            leading = isinstance(node, ServerNode) and node.server.leadership() is not None
            if host.status == "up" and leading:
                host.crash()
                self.crashes += 1
                self.world.sim.after(self.down, host.restart, "durable")
                break
        self.world.sim.after(self.every, self._strike)


@dataclass(frozen=True)
class PrimaryOrderRun:
    seed: int
    flawed: bool
    violations: dict[str, int]
    first: str
    linearizable: bool | str
    diverged: bool
    crashes: int
    ops_ok: int

    @property
    def order_violated(self) -> bool:
        return bool(self.violations)


def run_once(
    seed: int,
    *,
    flawed: bool,
    nodes: int = 3,
    clients: int = 4,
    ops: int = 150,
    every: float = 0.5,
    down: float = 0.3,
) -> PrimaryOrderRun:
    order = OrderChecker()
    observer = RunObserver()
    config = ZabConfig(
        id=1,
        members=frozenset({1}),
        election_tick=10,
        establish_ticks=40,
        max_batch=8,
        flaws=Flaws(skip_synchronization=flawed),
    )
    settings = SimZab(config=config, options=ReplicaOptions(compact_after=64, log_reads=True))
    world = World(
        seed=seed,
        node_factory=settings.factory(observer, order),
        stub_factory=KVClientStub,
        workload=ChainWorkload(clients),
        nodes=nodes,
        clients=clients,
        ops=ops,
        nemesis=NemesisSpec.parse("partition", partitions=("isolate",), interval=0.3),
        link=LinkConfig(latency=Uniform(0.001, 0.005)),
        client_timeout=0.5,
        think=Uniform(0.0, 0.02),
        bootstrap=settings.bootstrap,
        trace=False,
        trace_messages=False,
    )
    crasher = LeaderCrasher(world, every, down)
    result = world.run(max_time=120.0)
    found = order.violations()
    counts: dict[str, int] = {}
    for violation in found:
        counts[violation.property] = counts.get(violation.property, 0) + 1
    verdict = check_linearizable(result.history, model="kv", time_limit=10.0)
    diverged = _diverged(result.applied)
    return PrimaryOrderRun(
        seed=seed,
        flawed=flawed,
        violations=counts,
        first=str(found[0]) if found else "",
        linearizable=verdict.valid,
        diverged=diverged,
        crashes=crasher.crashes,
        ops_ok=int(result.stats["ops"]["ok"]),
    )


def _diverged(applied: dict[str, dict[int, object]]) -> bool:
    """Whether two replicas applied different commands at one position."""
    seen: dict[int, object] = {}
    for log in applied.values():
        for index, command in log.items():
            if seen.setdefault(index, command) != command:
                return True
    return False


__all__ = ["ChainWorkload", "LeaderCrasher", "PrimaryOrderRun", "run_once"]
