"""What every consensus protocol's ``archlab sim`` scenario shares (codex 5.3).

A consensus scenario runs a kv workload over several keys against a cluster of
:class:`~archlab.consensus.simhost.ServerNode` s and checks three things about each run:

1. the history is linearizable under the ``kv`` model (each key a compare-and-set register);
2. no two replicas applied different entries at one index (the simulator's default check on
   the ``Apply`` records);
3. what :class:`~archlab.consensus.simhost.RunObserver` saw on the servers while it ran: at most
   one leader per term, and no message sent before the state it promised was written.

A protocol's scenario subclasses :class:`ConsensusScenario`, declares its options and builds
its world with :meth:`ConsensusScenario.world`::

    @register_scenario
    class RaftScenario(ConsensusScenario):
        name = "raft"
        summary = "Raft replicating a key-value store"

        def build(self, config: RunConfig) -> World:
            observer = observer_for(config)
            settings = raft_settings(config)
            return self.world(config, settings.factory(observer), observer, bootstrap=...)

A protocol with a static membership (Multi-Paxos, Zab) subclasses
:class:`StaticConsensusScenario` instead and only says how its simulated cluster is set up
(:meth:`StaticConsensusScenario.settings`). :func:`chosen_flaw` and :func:`batching` read the
``--flaw``, ``--max-batch`` and ``--compact-after`` options every protocol's scenario has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, TypeVar

from archlab.consensus.simclient import KVClientStub, kv_workload
from archlab.consensus.simhost import RunObserver, ServerNode
from archlab.errors import ConfigError
from archlab.sim.disk import Disk
from archlab.sim.nemesis import FaultPlan, MembershipHook
from archlab.sim.process import Address, NodeFactory
from archlab.sim.scenario import CheckOutcome, RunConfig, Scenario, ScenarioOption
from archlab.sim.world import Bootstrap, RunResult, World

F = TypeVar("F")

KEYS_OPTION = ScenarioOption("keys", 3, "Number of keys the workload reads, writes and cas-es.")
READS_OPTION = ScenarioOption(
    "read_share", 0.5, "Share of operations that are reads (the rest: writes and cas, half each)."
)
VALUES_OPTION = ScenarioOption(
    "values",
    5,
    "Values are drawn from 0..N-1: few values make compare-and-sets succeed often, many make a "
    "stale read stand out (an unfinished write of the same value could explain it).",
)


def observer_for(config: RunConfig) -> RunObserver:
    """The observer a run's ``--checks`` asks for."""
    return RunObserver(invariants=dict(config.options).get("checks", "all") == "all")


def chosen_flaw(config: RunConfig, flaws: Mapping[str, F]) -> F:
    """The flaws the run's ``--flaw`` names (one of ``flaws``'s keys)."""
    flaw = str(config.option("flaw"))
    if flaw not in flaws:
        raise ConfigError(f"--flaw: {flaw!r} is not one of {', '.join(flaws)}")
    return flaws[flaw]


def batching(config: RunConfig) -> tuple[int, int]:
    """The run's ``--max-batch`` and ``--compact-after``, each at least 1."""
    max_batch = int(config.option("max_batch"))
    compact_after = int(config.option("compact_after"))
    if max_batch < 1 or compact_after < 1:
        raise ConfigError("--max-batch and --compact-after must be at least 1")
    return max_batch, compact_after


def key_names(count: int) -> tuple[str, ...]:
    if count < 1:
        raise ValueError("the workload needs at least one key")
    return tuple(f"k{i}" for i in range(count))


#: Faults of the current leader at the nemesis's pace, and isolations at leader events.
LEADER_FAULTS = (
    "crash",
    "partition",
    "pause",
    "clock-skew",
    "skew-isolate",
    "elected",
    "first-commit",
)
LEADER_FAULTS_OPTION = ScenarioOption(
    "leader_faults",
    "none",
    "Also fault the leader: crash, partition (isolate), pause it, skew its clock, or both skew "
    "its clock and isolate it (skew-isolate), at the --nemesis-interval pace; elected: "
    "isolate a new leader the moment it is elected (half "
    "the time); first-commit: isolate a leader the moment it first commits in its term (half "
    "the time). Comma-separated, or none.",
)
CHECKS_OPTION = ScenarioOption(
    "checks",
    "all",
    "all: the history, replica agreement, and invariants watched on the servers (one leader "
    "per term, persist before send); history: only what clients and applied logs reveal.",
    choices=("all", "history"),
)
ON_VIOLATION_OPTION = ScenarioOption(
    "on_violation",
    "stop",
    "At the first invariant violation seen on the servers: stop the run there (its history "
    "so far is still checked), or continue to see what the clients experience.",
    choices=("stop", "continue"),
)


class ConsensusWorld(World):
    """A :class:`~archlab.sim.world.World` whose result carries its observer's findings.

    ``stop_on_violation`` ends the run at the observer's first violation. Runs are capped at
    ``events_per_op`` simulation events per operation (a broken protocol may livelock in a
    message storm once its state is corrupt); a correct run needs a few dozen.
    """

    def __init__(
        self,
        *,
        observer: RunObserver,
        stop_on_violation: bool = True,
        events_per_op: int = 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.observer = observer
        self.event_cap = 50_000 + events_per_op * int(kwargs.get("ops", 100))
        if stop_on_violation and observer.on_violation is None:
            observer.on_violation = self.sim.stop

    def hunt_leader(self, kinds: tuple[str, ...]) -> None:
        """Fault whichever server leads, again and again (see :class:`LeaderHunter`)."""
        for kind in kinds:
            hunter = LeaderHunter(self, kind)
            if kind in LEADER_EVENTS:
                self.observer.leader_listeners.append(hunter.on_leader_event)
            else:
                hunter.start()

    def run(self, max_time: float | None = None, max_events: int | None = None) -> RunResult:
        result = super().run(max_time, self.event_cap if max_events is None else max_events)
        result.stats["consensus"] = self.observer.summary()
        return result


class ConsensusScenario(Scenario):
    """The shared scaffolding of the consensus scenarios (see the module docstring)."""

    model: ClassVar[str] = "kv"

    def world(
        self,
        config: RunConfig,
        node_factory: NodeFactory,
        observer: RunObserver,
        *,
        bootstrap: Bootstrap | None = None,
        nodes: int | None = None,
        membership: MembershipHook | None = None,
    ) -> ConsensusWorld:
        """The world of one run: ``nodes`` hosts (default ``config.nodes``), kv clients running
        the workload that the ``keys`` and ``read_share`` options describe."""
        kwargs = config.world_kwargs()
        if nodes is not None:
            kwargs["nodes"] = nodes
        options = dict(config.options)
        stop = options.get("on_violation", "stop") == "stop"
        reads = float(options.get("read_share", 0.5))
        if not 0 <= reads <= 1:
            raise ConfigError(f"--read-share must be in [0, 1], got {reads}")
        keys = int(options.get("keys", 3))
        values = int(options.get("values", 5))
        if keys < 1 or values < 1:
            raise ConfigError(f"--keys and --values must be at least 1, got {keys} and {values}")
        world = ConsensusWorld(
            observer=observer,
            stop_on_violation=stop,
            node_factory=node_factory,
            stub_factory=KVClientStub,
            workload=kv_workload(key_names(keys), values=values, reads=reads),
            bootstrap=bootstrap,
            membership=membership,
            **kwargs,
        )
        world.hunt_leader(parse_leader_faults(str(options.get("leader_faults", "none"))))
        return world

    def check(self, result: RunResult, config: RunConfig) -> CheckOutcome:
        """Linearizability and replica agreement, then the observer's invariants."""
        outcome = super().check(result, config)
        violations: list[str] = list(result.stats.get("consensus", {}).get("violations", []))
        if not violations:
            return outcome
        outcome.details["invariants"] = violations
        if outcome.valid is False:
            outcome.summary += f"; also {violations[0]}"
            return outcome
        return CheckOutcome(
            False,
            f"{violations[0]} (history {outcome.summary})",
            outcome.details,
            outcome.highlight,
            outcome.order,
        )


class SimCluster(Protocol):
    """How a protocol's servers run on simulated hosts (``SimPaxos``, ``SimZab``)."""

    def bootstrap(self, address: Address, servers: tuple[Address, ...], disk: Disk) -> None: ...

    def factory(self, observer: RunObserver | None = None) -> NodeFactory: ...


class StaticConsensusScenario(ConsensusScenario):
    """A consensus scenario whose cluster has a static membership (no reconfiguration)."""

    #: The protocol's name in messages ("Multi-Paxos").
    protocol: ClassVar[str]

    def settings(self, config: RunConfig) -> SimCluster:
        """The simulated cluster ``config``'s options ask for."""
        raise NotImplementedError

    def build(self, config: RunConfig) -> World:
        refuse_unsupported(self.protocol, config)
        settings = self.settings(config)
        observer = RunObserver()
        return self.world(
            config,
            settings.factory(observer),
            observer,
            bootstrap=settings.bootstrap,
        )


def refuse_unsupported(protocol: str, config: RunConfig) -> None:
    """Static membership and stable storage: say so rather than run something else."""
    if "membership" in config.nemesis.faults:
        raise ConfigError(
            f"--nemesis membership: {protocol} here has a static membership (no reconfiguration);"
            " use raft for membership changes"
        )


def parse_leader_faults(text: str) -> tuple[str, ...]:
    """``"crash,partition"`` (or ``"none"``) as fault kinds for :class:`LeaderHunter`."""
    kinds = tuple(k.strip() for k in text.split(",") if k.strip() and k.strip() != "none")
    for kind in kinds:
        if kind not in LEADER_FAULTS:
            raise ConfigError(
                f"--leader-faults: unknown fault {kind!r}; choose from {', '.join(LEADER_FAULTS)}"
            )
    return kinds


LEADER_EVENTS = ("elected", "first-commit")


class LeaderHunter:
    """A nemesis aimed at the leader (Jepsen's "kill the primary", sharpened).

    ``crash``, ``partition``, ``pause``, ``clock-skew``: after a quiet gap (exponential, mean
    the nemesis's ``interval``) fault the server that currently leads (the highest term among
    running servers) for a fault of the nemesis's ``duration`` (times 0.5-1.5), then start over.
    ``skew-isolate`` skews the leader's clock (as ``clock-skew`` does, within ``max_skew`` and
    ``max_drift``) and cuts it off at the same instant: the situation a leader lease must
    survive, a leader whose clock misbehaves losing its followers.

    ``elected``, ``first-commit``: at that moment of a leader's life — just elected; just
    committed (applied) its first entry of its term — isolate it, half the time, before the
    messages it is about to send leave. Isolating new leaders leaves short, divergent log
    tails of ever higher terms on single servers; isolating leaders right after their first
    commit freezes what a majority has stored at that instant. Together they build the Raft
    paper's Figure 8, the schedule in which an entry of an earlier term, stored on a majority
    but committed by counting, is overwritten.

    Random faults hit a leader only one time in N, and almost never at those instants. The
    faults go through the world's nemesis, so they are traced, drawn and healed like the
    others.
    """

    def __init__(self, world: World, kind: str) -> None:
        self.world = world
        self.kind = kind
        self.rng = world.sim.rng(f"nemesis.leader-{kind}")
        self.spec = world.nemesis.spec

    def on_leader_event(self, event: str, address: Address, term: int) -> None:
        if event != self.kind or self.world.clients_done or self.rng.random() >= 0.5:
            return
        duration = self.spec.duration * self.rng.uniform(0.5, 1.5)
        plan = FaultPlan("partition", self.world.sim.now, duration, (address,), shape="isolate")
        self.world.nemesis.apply_now(plan)

    def start(self) -> None:
        self._schedule()

    def _schedule(self) -> None:
        gap = self.rng.expovariate(1.0 / self.spec.interval)
        self.world.sim.after(gap, self._strike)

    def _strike(self) -> None:
        if self.world.clients_done:
            return
        leader = current_leader(self.world)
        duration = self.spec.duration * self.rng.uniform(0.5, 1.5)
        if leader is not None:
            now, nemesis = self.world.sim.now, self.world.nemesis
            if self.kind == "skew-isolate":
                nemesis.apply_now(FaultPlan("clock-skew", now, duration, (leader,)))
                nemesis.apply_now(FaultPlan("partition", now, duration, (leader,), "isolate"))
            else:
                shape = "isolate" if self.kind == "partition" else None
                nemesis.apply_now(FaultPlan(self.kind, now, duration, (leader,), shape=shape))
        self.world.sim.after(duration, self._schedule)


def current_leader(world: World) -> Address | None:
    """The running server leading the highest term (by its own account), if any."""
    best: tuple[int, Address] | None = None
    for address, host in world.hosts.items():
        node = host.node
        if host.status != "up" or not isinstance(node, ServerNode):
            continue
        term = node.server.leadership()
        if term is not None and (best is None or term > best[0]):
            best = (term, address)
    return None if best is None else best[1]
