"""A simulated world: a cluster of hosts, its clients, the network and the nemesis, run once.

:class:`World` wires the pieces for one seed: ``nodes`` servers (``n0`` ... hosting the
protocol's nodes), ``clients`` client processes (``c0`` ...) running a workload through the
protocol's client stub, a :class:`~archlab.sim.network.Network` and a
:class:`~archlab.sim.nemesis.Nemesis`. :meth:`World.run` boots the servers, runs until every
client has finished its operations (or a time / event limit), heals every fault, and returns a
:class:`RunResult`: the history (for the checkers), the trace, the faults applied, statistics
and what each replica applied.

Everything random comes from the simulation's named streams, so ``World(seed=s, ...)`` built
twice with the same arguments runs identically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from archlab.check.history import Event, Recorder, dumps
from archlab.sim.client import Client, StubFactory
from archlab.sim.clock import NodeClock
from archlab.sim.disk import Disk
from archlab.sim.host import Host
from archlab.sim.kernel import Simulation, StopReason
from archlab.sim.latency import Distribution, Uniform
from archlab.sim.nemesis import Fault, MembershipHook, Nemesis, NemesisSpec
from archlab.sim.network import LinkConfig, Network
from archlab.sim.process import Address, NodeFactory
from archlab.sim.trace import Trace
from archlab.sim.workload import OpBudget, Workload

Bootstrap = Callable[[Address, tuple[Address, ...], Disk], None]


@dataclass
class RunResult:
    """What one simulated run produced.

    ``history`` events carry their line number in the JSON Lines file :meth:`history_text`
    writes, so a checker's report points at lines of that file.
    """

    seed: int
    history: list[Event]
    trace: Trace
    faults: list[Fault]
    stop_reason: StopReason
    end_time: float
    events_run: int
    stats: dict[str, Any] = field(default_factory=dict)
    applied: dict[Address, dict[int, Any]] = field(default_factory=dict)
    apply_conflicts: dict[Address, list[tuple[int, Any, Any]]] = field(default_factory=dict)

    def history_text(self) -> str:
        return dumps(self.history)

    @property
    def fault_bands(self) -> list[tuple[float, float, str]]:
        """``(start, end, label)`` per fault, for a timeline's shaded bands."""
        return [
            (f.start, f.end if f.end is not None else self.end_time, f.label) for f in self.faults
        ]


class World:
    """One cluster, its clients and its faults (see the module docstring)."""

    def __init__(
        self,
        *,
        seed: int,
        node_factory: NodeFactory,
        stub_factory: StubFactory,
        workload: Workload,
        nodes: int = 3,
        clients: int = 5,
        ops: int = 100,
        nemesis: NemesisSpec | None = None,
        membership: MembershipHook | None = None,
        link: LinkConfig | None = None,
        client_link: LinkConfig | None = None,
        fsync_latency: Distribution | None = None,
        torn_writes: bool = False,
        client_timeout: float = 1.0,
        think: Distribution | None = None,
        bootstrap: Bootstrap | None = None,
        trace: bool = True,
        trace_messages: bool = True,
    ) -> None:
        if nodes < 1 or clients < 1 or ops < 0:
            raise ValueError("a world needs at least one node and one client")
        self.sim = Simulation(seed, Trace(enabled=trace))
        self.network = Network(self.sim, link, trace_messages=trace_messages)
        self.servers: tuple[Address, ...] = tuple(f"n{i}" for i in range(nodes))
        self.recorder = Recorder()
        self.hosts: dict[Address, Host] = {}
        for address in self.servers:
            disk = Disk()
            if bootstrap is not None:
                bootstrap(address, self.servers, disk)
                disk.fsync()
            self.hosts[address] = Host(
                self.sim,
                self.network,
                address,
                node_factory,
                self.servers,
                disk=disk,
                clock=NodeClock(self.sim),
                fsync_latency=fsync_latency,
                torn_writes=torn_writes,
            )
        self.budget = OpBudget(workload, ops)
        stub_rng = self.sim.rng("stubs")
        self.clients: list[Client] = []
        client_link = client_link or LinkConfig(latency=(link or LinkConfig()).latency)
        for i in range(clients):
            address = f"c{i}"
            for server in self.servers:
                self.network.configure(address, server, client_link)
                self.network.configure(server, address, client_link)
            self.clients.append(
                Client(
                    self.sim,
                    self.network,
                    address,
                    i,
                    stub_factory(self.servers, stub_rng),
                    self.budget,
                    self.recorder,
                    timeout=client_timeout,
                    think=think or Uniform(0.0, 0.01),
                )
            )
        self.nemesis = Nemesis(self, nemesis, membership)

    def host(self, address: Address) -> Host:
        return self.hosts[address]

    @property
    def clients_done(self) -> bool:
        return all(c.done for c in self.clients)

    def run(self, max_time: float | None = None, max_events: int | None = 5_000_000) -> RunResult:
        """Run until every client is done (or a limit); then heal and report."""
        sim = self.sim
        for host in self.hosts.values():
            host.boot()
        stagger = sim.rng("clients.start")
        for client in self.clients:
            client.start(stagger.uniform(0.0, 0.01))
        self.nemesis.start()
        reason = sim.run(
            until=max_time,
            stop_when=lambda: all(c.done for c in self.clients),
            max_events=max_events,
        )
        self.nemesis.stop()
        sim.record("end", reason=reason)
        return RunResult(
            seed=sim.seed,
            history=[replace(e, line=i) for i, e in enumerate(self.recorder.events, 1)],
            trace=sim.trace,
            faults=list(self.nemesis.applied),
            stop_reason=reason,
            end_time=sim.now,
            events_run=sim.events_run,
            stats=self.stats(),
            applied={a: dict(h.applied) for a, h in self.hosts.items()},
            apply_conflicts={a: list(h.apply_conflicts) for a, h in self.hosts.items()},
        )

    def stats(self) -> dict[str, Any]:
        net = self.network.stats
        completed = {"ok": 0, "fail": 0, "info": 0}
        for client in self.clients:
            for status, count in client.completed.items():
                completed[status] += count
        return {
            "ops": completed,
            "messages": {
                "sent": net.sent,
                "delivered": net.delivered,
                "lost": net.lost,
                "partitioned": net.partitioned,
                "duplicated": net.duplicated,
                "reordered": net.reordered,
            },
            "disk": {
                "fsyncs": sum(h.disk.stats.fsyncs for h in self.hosts.values()),
                "crashes": sum(h.disk.stats.crashes for h in self.hosts.values()),
                "wipes": sum(h.disk.stats.wipes for h in self.hosts.values()),
            },
            "events": self.sim.events_run,
            "virtual_time": round(self.sim.now, 6),
        }
