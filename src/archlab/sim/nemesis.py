"""The nemesis: declarative fault schedules, applied to the hosts, network and clocks.

A :class:`NemesisSpec` says *which* faults and at what rates, the command line's
``--nemesis partition,crash,pause,loss,dup,reorder,clock-skew[,wipe][,membership]`` with
``--nemesis-interval``, ``--fault-duration`` and the per-fault options. For each fault kind
the nemesis draws, from its own random stream (``nemesis.<kind>``), a quiet gap (exponential,
mean ``interval``), then a fault lasting a uniform ``[0.5, 1.5] x duration``, then the next
gap, until the clients are done; faults of different kinds overlap freely. Explicit faults
(:class:`FaultPlan`) can be scheduled too, for experiments that need one precise partition.

What each kind does while active:

``partition``   a network partition of one of the shapes in ``partitions``: ``isolate`` (one
                node cut off both ways), ``majority`` (random majority | minority),
                ``one-way`` (a minority hears the rest but is not heard), ``bridge`` (two
                halves that share one node which sees both)
``crash``       one running server crashes; at the end it restarts, ``durable`` (disk kept),
                ``volatile`` (disk wiped) or, with ``mixed``, either at random
``pause``       one running server stops processing (GC pause); it resumes at the end
``loss``        every server-to-server message is lost with probability ``loss``
``dup``         ... delivered twice with probability ``dup``
``reorder``     ... held back and overtaken with probability ``reorder``
``clock-skew``  one server's clock jumps by up to ``max_skew`` seconds either way and drifts
                by up to ``max_drift``; it is resynchronised at the end
``wipe``        one running server crashes and, at the end, restarts with its disk wiped (a
                voter that lost its disk), whatever ``restart`` says
``membership``  asks the scenario to change the cluster's membership (only scenarios that
                support it, such as consensus protocols)

Every fault applied, with its targets and parameters, is recorded in the trace (``fault``
and ``heal`` records) and in :attr:`Nemesis.applied`: the schedule that actually happened,
which is also what a timeline draws as shaded bands.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from archlab.errors import ConfigError
from archlab.sim.kernel import Timer
from archlab.sim.network import FaultOverlay

if TYPE_CHECKING:
    from archlab.sim.world import World

FAULT_KINDS = (
    "partition",
    "crash",
    "pause",
    "loss",
    "dup",
    "reorder",
    "clock-skew",
    "wipe",
    "membership",
)
PARTITION_SHAPES = ("isolate", "majority", "one-way", "bridge")
RestartPolicy = Literal["durable", "volatile", "mixed"]
RESTART_POLICIES: tuple[RestartPolicy, ...] = ("durable", "volatile", "mixed")

#: A scenario's membership hook: change the cluster, return what was done (for the trace).
MembershipHook = Callable[["World", random.Random], str]


@dataclass(frozen=True)
class NemesisSpec:
    """Which faults to inject and how often (see the module docstring)."""

    faults: tuple[str, ...] = ()
    interval: float = 0.4
    duration: float = 0.4
    loss: float = 0.2
    dup: float = 0.2
    reorder: float = 0.3
    max_skew: float = 0.25
    max_drift: float = 0.01
    restart: RestartPolicy = "durable"
    partitions: tuple[str, ...] = PARTITION_SHAPES

    def __post_init__(self) -> None:
        unknown = [f for f in self.faults if f not in FAULT_KINDS]
        if unknown:
            raise ConfigError(
                f"--nemesis: unknown fault {unknown[0]!r}; choose from {', '.join(FAULT_KINDS)}"
            )
        bad_shape = [s for s in self.partitions if s not in PARTITION_SHAPES]
        if bad_shape or not self.partitions:
            raise ConfigError(
                f"--partitions: unknown shape {bad_shape[0] if bad_shape else '(none)'!r}; "
                f"choose from {', '.join(PARTITION_SHAPES)}"
            )
        if self.interval <= 0 or self.duration <= 0:
            raise ConfigError("--nemesis-interval and --fault-duration must be positive")
        for name in ("loss", "dup", "reorder"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ConfigError(f"--{name} must be a probability in [0, 1], got {p}")
        if self.max_skew < 0 or not 0 <= self.max_drift < 1:
            raise ConfigError("--max-skew must be >= 0 and --max-drift in [0, 1)")
        if self.restart not in RESTART_POLICIES:
            raise ConfigError(f"--restart must be one of {', '.join(RESTART_POLICIES)}")

    @classmethod
    def parse(cls, text: str, **options: Any) -> NemesisSpec:
        """``"partition,crash"`` (or ``""`` / ``"none"``) plus keyword options."""
        kinds = [k.strip() for k in text.split(",") if k.strip() and k.strip() != "none"]
        ordered = tuple(k for k in FAULT_KINDS if k in kinds)
        unknown = [k for k in kinds if k not in FAULT_KINDS]
        return cls(faults=(*ordered, *unknown), **options)

    @property
    def text(self) -> str:
        return ",".join(self.faults) or "none"


@dataclass(frozen=True)
class FaultPlan:
    """One fault to apply at ``start`` for ``duration`` seconds (``targets`` may be chosen)."""

    kind: str
    start: float
    duration: float
    targets: tuple[str, ...] = ()
    shape: str | None = None
    restart: Literal["durable", "volatile"] | None = None
    params: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    """A fault as it was applied: kind, true start and end, targets and a readable detail."""

    kind: str
    start: float
    end: float | None
    targets: tuple[str, ...]
    detail: str

    @property
    def label(self) -> str:
        return f"{self.kind} {self.detail}".strip()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "targets": list(self.targets),
            "detail": self.detail,
        }


class Nemesis:
    """Applies a :class:`NemesisSpec` (and explicit :class:`FaultPlan` s) to a world."""

    def __init__(
        self,
        world: World,
        spec: NemesisSpec | None = None,
        membership: MembershipHook | None = None,
    ) -> None:
        self.world = world
        self.sim = world.sim
        self.spec = spec or NemesisSpec()
        self.membership = membership
        if "membership" in self.spec.faults and membership is None:
            raise ConfigError("--nemesis membership: this scenario does not support it")
        self.applied: list[Fault] = []
        self._active: dict[int, tuple[Fault, Callable[[], None]]] = {}
        self._overlay: dict[str, float] = {}
        self._pending: list[Timer] = []
        self._stopped = False

    # -- scheduling -----------------------------------------------------------------------

    def start(self) -> None:
        """Begin the random schedule of every fault kind in the spec."""
        for kind in self.spec.faults:
            self._schedule_next(kind, self.sim.now)

    def plan(self, plan: FaultPlan) -> None:
        """Apply ``plan`` at its start time (an explicit, scripted fault)."""
        self._pending.append(self.sim.timer(max(0.0, plan.start - self.sim.now), self._begin, plan))

    def apply_now(self, plan: FaultPlan) -> None:
        """Apply ``plan`` immediately, inside the current event (``plan.start`` is ignored).

        For adversaries reacting to what a node just did: called from within a node's
        callback, a partition applied here already drops the messages that callback sends.
        """
        self._begin(replace(plan, start=self.sim.now))

    def stop(self) -> None:
        """No new faults; end every active one now (the final heal)."""
        self._stopped = True
        for timer in self._pending:
            timer.cancel()
        self._pending.clear()
        for number in list(self._active):
            self._end(number)

    def _rng(self, kind: str) -> random.Random:
        return self.sim.rng(f"nemesis.{kind}")

    def _schedule_next(self, kind: str, after: float) -> None:
        if self._stopped:
            return
        rng = self._rng(kind)
        gap = rng.expovariate(1.0 / self.spec.interval)
        duration = self.spec.duration * rng.uniform(0.5, 1.5)
        plan = FaultPlan(kind, after + gap, 0.0 if kind == "membership" else duration)
        self._pending.append(self.sim.timer(after + gap - self.sim.now, self._begin, plan, True))

    # -- applying -------------------------------------------------------------------------

    def _begin(self, plan: FaultPlan, recurring: bool = False) -> None:
        if self._stopped:
            return
        self._pending = [t for t in self._pending if t.active]
        rng = self._rng(plan.kind)
        applied = self._apply(plan, rng)
        if applied is None:
            self.sim.record("fault-skipped", kind=plan.kind)
            if recurring:
                self._schedule_next(plan.kind, self.sim.now)
            return
        targets, detail, undo = applied
        fault = Fault(plan.kind, self.sim.now, None, targets, detail)
        number = len(self.applied)
        self.applied.append(fault)
        self.sim.record("fault", kind=plan.kind, targets=list(targets), detail=detail)
        if plan.duration <= 0:
            self.applied[number] = replace(fault, end=self.sim.now)
            if recurring:
                self._schedule_next(plan.kind, self.sim.now)
            return
        self._active[number] = (fault, undo)
        self.sim.after(plan.duration, self._end, number, recurring)

    def _end(self, number: int, recurring: bool = False) -> None:
        entry = self._active.pop(number, None)
        if entry is None:
            return
        fault, undo = entry
        undo()
        self.applied[number] = replace(fault, end=self.sim.now)
        self.sim.record("heal", kind=fault.kind, targets=list(fault.targets))
        if recurring:
            self._schedule_next(fault.kind, self.sim.now)

    def _apply(  # noqa: PLR0911 - one return per fault kind the nemesis applies
        self, plan: FaultPlan, rng: random.Random
    ) -> tuple[tuple[str, ...], str, Callable[[], None]] | None:
        world = self.world
        servers = list(world.servers)
        kind = plan.kind
        if kind == "partition":
            return self._partition(plan, rng, servers)
        if kind in ("crash", "pause", "wipe"):
            running = [a for a in servers if world.hosts[a].status == "up"]
            targets = [t for t in plan.targets if t in running] or (
                [rng.choice(running)] if running and not plan.targets else []
            )
            if not targets:
                return None
            host = world.hosts[targets[0]]
            if kind == "pause":
                host.pause()
                return (host.address,), host.address, host.resume
            mode = "volatile" if kind == "wipe" else plan.restart or self._restart_mode(rng)
            host.crash()

            def restart() -> None:
                if host.status == "crashed":
                    host.restart(mode)

            return (host.address,), f"{host.address} ({mode} restart)", restart
        if kind in ("loss", "dup", "reorder"):
            rate = plan.params.get("rate", float(getattr(self.spec, kind)))
            self._overlay[kind] = rate
            self._refresh_overlay()

            def clear() -> None:
                self._overlay.pop(kind, None)
                self._refresh_overlay()

            return tuple(servers), f"p={rate:g}", clear
        if kind == "clock-skew":
            target = plan.targets[0] if plan.targets else rng.choice(servers)
            clock = world.hosts[target].clock
            offset = plan.params.get("offset", rng.uniform(-self.spec.max_skew, self.spec.max_skew))
            drift = plan.params.get("drift", rng.uniform(-self.spec.max_drift, self.spec.max_drift))
            clock.step(offset)
            clock.set_drift(drift)
            return (target,), f"{target} {offset:+.3f}s drift {drift:+.4f}", clock.reset
        if kind == "membership":
            assert self.membership is not None
            what = self.membership(world, rng)
            return (), what, lambda: None
        raise ConfigError(f"unknown fault kind {kind!r}")

    def _restart_mode(self, rng: random.Random) -> Literal["durable", "volatile"]:
        if self.spec.restart == "mixed":
            return "durable" if rng.random() < 0.5 else "volatile"
        return self.spec.restart

    def _refresh_overlay(self) -> None:
        self.world.network.set_faults(
            FaultOverlay(
                loss=self._overlay.get("loss", 0.0),
                duplicate=self._overlay.get("dup", 0.0),
                reorder=self._overlay.get("reorder", 0.0),
                among=frozenset(self.world.servers),
            )
        )

    def _partition(
        self, plan: FaultPlan, rng: random.Random, servers: Sequence[str]
    ) -> tuple[tuple[str, ...], str, Callable[[], None]] | None:
        if len(servers) < 2:
            return None
        network = self.world.network
        shape = plan.shape or rng.choice(self.spec.partitions)
        if shape == "bridge" and len(servers) < 3:
            shape = "isolate"
        shuffled = list(servers)
        rng.shuffle(shuffled)
        if plan.targets:
            cut = list(plan.targets)
            rest = [s for s in servers if s not in cut]
        elif shape == "isolate":
            cut, rest = shuffled[:1], shuffled[1:]
        else:
            minority = (len(servers) - 1) // 2 or 1
            cut, rest = shuffled[:minority], shuffled[minority:]
        cut, rest = sorted(cut), sorted(rest)
        if shape in ("isolate", "majority"):
            network.partition(cut, rest)
            detail = f"{','.join(cut)} | {','.join(rest)}"
        elif shape == "one-way":
            network.block(cut, rest)
            detail = f"{','.join(cut)} -/-> {','.join(rest)}"
        elif shape == "bridge":
            order = sorted(servers)
            rng.shuffle(order)
            bridge = order[0]
            half = (len(order) - 1) // 2
            left, right = sorted(order[1 : 1 + half]), sorted(order[1 + half :])
            network.bridge(left, bridge, right)
            cut = [bridge]
            detail = f"{','.join(left)} | {','.join(right)} bridged by {bridge}"
        else:
            raise ConfigError(f"unknown partition shape {shape!r}")
        return tuple(cut), f"{shape}: {detail}", network.heal
