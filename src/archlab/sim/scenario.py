"""Scenarios: the protocols ``archlab sim <name>`` can run, from any package.

A scenario builds a :class:`~archlab.sim.world.World` for a :class:`RunConfig` (seed, cluster
size, operations, nemesis ...) and checks the history it produced. The simulator's own is
``register`` (:mod:`archlab.sim.scenarios`); other packages add theirs the same way, in a
module named ``scenarios`` anywhere under ``archlab`` (found by
:func:`archlab.lab.registry.chapter_modules`, as experiments are)::

    # archlab/consensus/scenarios.py
    from archlab.sim.scenario import RunConfig, Scenario, ScenarioOption, register_scenario

    @register_scenario
    class RaftScenario(Scenario):
        name = "raft"
        summary = "Raft replicating a key-value store"
        model = "kv"
        defaults = {"nodes": 5}
        options = (ScenarioOption("variant", "correct", "which Raft",
                                  choices=("correct", "no-prevote")),)
        supports_membership = True

        def build(self, config: RunConfig) -> World:
            return World(seed=config.seed, node_factory=..., stub_factory=..., workload=...,
                         **config.world_kwargs(), membership=self.change_membership)

Every scenario then gets the common command-line options (``--seed``/``--seeds``,
``--jobs``, ``--nemesis`` and its rates, ``--ops``, ``--nodes``, ``--history``,
``--timeline``, ``--json`` ...) plus its own :class:`ScenarioOption` s, sweeps over worker
processes, and a one-line reproduction command for every seed.

:meth:`Scenario.check` checks the history for linearizability under :attr:`Scenario.model`
and fails a run in which two replicas applied different commands at the same index (the
``Apply`` effect); scenarios with other properties override it.
"""

from __future__ import annotations

import shlex
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, ClassVar

from archlab.errors import ConfigError, UnknownNameError
from archlab.sim.latency import Constant, Distribution, Uniform
from archlab.sim.nemesis import NemesisSpec

if TYPE_CHECKING:
    from archlab.sim.world import RunResult, World

Verdict = bool | str  # True, False or "unknown"


@dataclass(frozen=True)
class ScenarioOption:
    """A scenario's own command-line option ``--<name>`` (dashes for underscores)."""

    name: str
    default: Any
    help: str
    choices: tuple[str, ...] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class RunConfig:
    """Everything one simulated run depends on, besides the code: its inputs.

    ``options`` holds the scenario's own options as sorted ``(name, value)`` pairs.
    ``check_time_limit`` bounds the checker (seconds); a check that hits it is ``unknown``.
    """

    seed: int = 0
    nodes: int = 3
    clients: int = 5
    ops: int = 300
    nemesis: NemesisSpec = field(default_factory=NemesisSpec)
    latency: Distribution = field(default_factory=lambda: Uniform(0.001, 0.005))
    fsync: Distribution = field(default_factory=lambda: Constant(0.0005))
    torn_writes: bool = False
    client_timeout: float = 0.5
    think: Distribution = field(default_factory=lambda: Uniform(0.0, 0.04))
    check_time_limit: float = 10.0
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str) -> Any:
        for key, value in self.options:
            if key == name:
                return value
        raise KeyError(name)

    def world_kwargs(self) -> dict[str, Any]:
        """The :class:`~archlab.sim.world.World` arguments every scenario passes on."""
        from archlab.sim.network import LinkConfig

        return {
            "seed": self.seed,
            "nodes": self.nodes,
            "clients": self.clients,
            "ops": self.ops,
            "nemesis": self.nemesis,
            "link": LinkConfig(latency=self.latency),
            "fsync_latency": self.fsync,
            "torn_writes": self.torn_writes,
            "client_timeout": self.client_timeout,
            "think": self.think,
        }


@dataclass
class CheckOutcome:
    """The verdict on one run's history, and the checker's own report."""

    valid: Verdict
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    #: Operations (:attr:`~archlab.check.history.Operation.index`) the checker could not
    #: place, drawn in red on the timeline.
    highlight: tuple[int, ...] = ()
    #: A linearization order to number on the timeline: the witness of a valid history, the
    #: longest linearizable prefix of an invalid one.
    order: tuple[int, ...] = ()


@dataclass
class RunReport:
    """One seed's run, small enough to send back from a worker process."""

    scenario: str
    seed: int
    valid: Verdict
    summary: str
    command: str
    ops: dict[str, int]
    faults: int
    events: int
    virtual_time: float
    sim_seconds: float
    check_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "valid": self.valid,
            "summary": self.summary,
            "command": self.command,
            "ops": dict(self.ops),
            "faults": self.faults,
            "events": self.events,
            "virtual_time": self.virtual_time,
            "sim_seconds": round(self.sim_seconds, 4),
            "check_seconds": round(self.check_seconds, 4),
        }


class Scenario(ABC):
    """A protocol the simulator can run and check (see the module docstring)."""

    name: ClassVar[str]
    summary: ClassVar[str]
    #: The linearizability model the history is checked against.
    model: ClassVar[str] = "cas-register"
    #: Overrides of :class:`RunConfig` defaults (``{"nodes": 5}``).
    defaults: ClassVar[Mapping[str, Any]] = {}
    options: ClassVar[tuple[ScenarioOption, ...]] = ()
    supports_membership: ClassVar[bool] = False
    examples: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def build(self, config: RunConfig) -> World:
        """The world of one run."""

    def default_config(self) -> RunConfig:
        options = tuple(sorted((o.name, o.default) for o in self.options))
        return replace(RunConfig(), **dict(self.defaults), options=options)

    def check(self, result: RunResult, config: RunConfig) -> CheckOutcome:
        """Linearizability of the history under :attr:`model`, plus replica agreement."""
        from archlab.check.linearizability import check_linearizable

        conflicts = {a: c for a, c in result.apply_conflicts.items() if c}
        if conflicts:
            node, found = next(iter(conflicts.items()))
            index, first, second = found[0]
            return CheckOutcome(
                False,
                f"{node} applied {second!r} at index {index} after applying {first!r}",
                {"apply_conflicts": {a: [list(x) for x in c] for a, c in conflicts.items()}},
            )
        verdict = check_linearizable(
            result.history, model=self.model, time_limit=config.check_time_limit
        )
        valid: Verdict = verdict.valid
        if valid is True:
            summary = f"linearizable ({self.model}, {verdict.operations} operations)"
        elif valid is False:
            failure = verdict.failures[0]
            summary = f"NOT linearizable ({self.model}): {verdict.explain(failure)}"
        else:
            summary = f"linearizability unknown ({self.model}): {verdict.reason}"
        failures = verdict.failures
        shown = failures[0] if failures else (verdict.keys[0] if len(verdict.keys) == 1 else None)
        order = tuple(op.index for op in shown.linearization) if shown is not None else ()
        return CheckOutcome(
            valid, summary, verdict.to_dict(), tuple(sorted(verdict.highlight)), order
        )


_SCENARIOS: dict[str, Scenario] = {}


def register_scenario(cls: type[Scenario]) -> type[Scenario]:
    """Class decorator: make ``archlab sim <cls.name>`` run this scenario."""
    existing = _SCENARIOS.get(cls.name)
    if existing is not None and type(existing).__qualname__ != cls.__qualname__:
        raise ValueError(f"scenario {cls.name!r} is registered twice")
    _SCENARIOS[cls.name] = cls()
    return cls


def discover() -> None:
    """Import every ``archlab.<package>...scenarios`` module."""
    import importlib

    from archlab.lab.registry import chapter_modules

    for name in chapter_modules("scenarios"):
        importlib.import_module(name)


def all_scenarios() -> list[Scenario]:
    discover()
    return [_SCENARIOS[n] for n in sorted(_SCENARIOS)]


def get_scenario(name: str) -> Scenario:
    if name not in _SCENARIOS:
        discover()
    try:
        return _SCENARIOS[name]
    except KeyError:
        raise UnknownNameError("scenario", name, sorted(_SCENARIOS)) from None


# -- running ---------------------------------------------------------------------------------


def run_scenario(
    scenario: Scenario, config: RunConfig, *, check: bool = True
) -> tuple[RunResult, CheckOutcome | None]:
    """Build the world of ``config``, run it and (unless ``check=False``) check the history."""
    world = scenario.build(config)
    result = world.run()
    outcome = scenario.check(result, config) if check else None
    return result, outcome


def run_and_report(scenario_name: str, config: RunConfig) -> RunReport:
    """Run and check one seed; what a sweep's worker does."""
    scenario = get_scenario(scenario_name)
    started = time.perf_counter()
    world = scenario.build(config)
    result = world.run()
    simulated = time.perf_counter()
    outcome = scenario.check(result, config)
    checked = time.perf_counter()
    return RunReport(
        scenario=scenario_name,
        seed=config.seed,
        valid=outcome.valid,
        summary=outcome.summary,
        command=reproduce_command(scenario, config),
        ops=dict(result.stats["ops"]),
        faults=len(result.faults),
        events=result.events_run,
        virtual_time=round(result.end_time, 6),
        sim_seconds=simulated - started,
        check_seconds=checked - simulated,
    )


# -- reproduction ----------------------------------------------------------------------------

#: RunConfig field -> command-line flag (the nemesis and options are handled apart).
CONFIG_FLAGS = {
    "nodes": "--nodes",
    "clients": "--clients",
    "ops": "--ops",
    "latency": "--latency",
    "fsync": "--fsync-latency",
    "client_timeout": "--client-timeout",
    "think": "--think-time",
    "check_time_limit": "--check-time-limit",
}
NEMESIS_FLAGS = {
    "interval": "--nemesis-interval",
    "duration": "--fault-duration",
    "loss": "--loss",
    "dup": "--dup",
    "reorder": "--reorder",
    "max_skew": "--max-skew",
    "max_drift": "--max-drift",
    "restart": "--restart",
    "partitions": "--partitions",
}


def _text(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def reproduce_command(scenario: Scenario, config: RunConfig) -> str:
    """The one command that reruns exactly this seed with exactly these parameters."""
    base = scenario.default_config()
    args = ["archlab", "sim", scenario.name]
    defaults = dict(base.options)
    for name, value in config.options:
        if defaults.get(name) != value:
            args += ["--" + name.replace("_", "-"), _text(value)]
    args += ["--seed", str(config.seed)]
    for name, flag in CONFIG_FLAGS.items():
        value = getattr(config, name)
        if value != getattr(base, name):
            args += [flag, _text(value)]
    if config.torn_writes:
        args.append("--torn-writes")
    if config.nemesis.faults:
        args += ["--nemesis", config.nemesis.text]
    for f in fields(NemesisSpec):
        if f.name == "faults":
            continue
        value = getattr(config.nemesis, f.name)
        if value != getattr(base.nemesis, f.name):
            args += [NEMESIS_FLAGS[f.name], _text(value)]
    return shlex.join(args)


def parse_seeds(text: str) -> list[int]:
    """``"7"``, ``"1-100"`` or ``"1,5,9-12"`` as a list of seeds."""
    seeds: list[int] = []
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            continue
        low, dash, high = part.partition("-")
        try:
            if dash:
                a, b = int(low), int(high)
                if b < a:
                    raise ConfigError(f"--seeds: range {part!r} runs backwards")
                seeds.extend(range(a, b + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise ConfigError(f"--seeds: {part!r} is not a seed or a range A-B") from None
    if not seeds:
        raise ConfigError("--seeds: no seed given")
    return seeds
