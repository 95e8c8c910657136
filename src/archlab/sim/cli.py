"""``archlab sim <scenario>``: run a protocol under faults, check it, sweep seeds, replay one.

Each registered scenario (:mod:`archlab.sim.scenario`) becomes a subcommand with the common
options below plus its own. One ``--seed`` runs once and prints what happened, the verdict and
the command that reproduces it; ``--seeds A-B`` sweeps seeds on ``--jobs`` worker processes
(or, with ``--on ray[=ADDRESS]``, as Ray tasks: :mod:`archlab.scale.rayengine`)
with a progress bar, printing one line per seed (verdict and reproduction command) and the
failing seeds at the end. In a sweep, ``--history`` / ``--timeline`` / ``--trace`` are written
for failing seeds only, with the seed in the file name.

Exit codes: 0 every run checked valid, 1 a violation was found, 2 bad input, 3 no violation
but some check was inconclusive (hit its time limit).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from archlab.errors import ArchlabError, ConfigError
from archlab.lab.progress import for_terminal
from archlab.sim.latency import parse_latency
from archlab.sim.nemesis import FAULT_KINDS, PARTITION_SHAPES, RESTART_POLICIES, NemesisSpec
from archlab.sim.scenario import (
    CheckOutcome,
    RunConfig,
    RunReport,
    Scenario,
    all_scenarios,
    get_scenario,
    parse_seeds,
    reproduce_command,
    run_scenario,
)
from archlab.sim.sweep import Workers, default_jobs
from archlab.sim.world import RunResult

EXIT_VALID, EXIT_VIOLATION, EXIT_UNKNOWN = 0, 1, 3


class ScenarioGroup(click.Group):
    """Subcommands built from the scenario registry."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [s.name for s in all_scenarios()]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        names = [s.name for s in all_scenarios()]
        if cmd_name not in names:
            return None
        return scenario_command(get_scenario(cmd_name))


@click.group("sim", cls=ScenarioGroup)
def sim() -> None:
    """Run a protocol in the deterministic simulator under injected faults, and check it.

    A run is a function of its seed and options: the same command prints the same history,
    byte for byte. A failing seed is a bug report you can replay.

    \b
    Examples:
      archlab sim register --seed 7 --nemesis partition,crash
      archlab sim register --variant broken --seeds 1-50 --nemesis partition,crash,loss
      archlab sim register --seeds 1-1000 --nemesis partition,crash,loss --jobs 2
      archlab sim raft --seeds 1-100000 --nemesis partition,crash --on ray=HEAD:6379
    """


#: The sections of ``archlab sim <scenario> --help``: title, then the options it holds.
HELP_SECTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("Runs", ("seed", "seeds", "jobs", "on", "check_time_limit")),
    ("Cluster and workload", ("nodes", "clients", "ops", "client_timeout", "think_time")),
    (
        "Faults (the nemesis)",
        (
            "nemesis",
            "nemesis_interval",
            "fault_duration",
            "partitions",
            "loss",
            "dup",
            "reorder",
            "max_skew",
            "max_drift",
            "restart",
            "torn_writes",
        ),
    ),
    ("Network and disk", ("latency", "fsync_latency")),
    ("Output", ("history", "timeline", "trace", "as_json")),
]


class SectionedCommand(click.Command):
    """A command whose --help lists its options in titled sections (``sections``)."""

    def __init__(self, *args: Any, sections: list[tuple[str, tuple[str, ...]]], **kw: Any):
        super().__init__(*args, **kw)
        self.sections = sections

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        params = {p.name: p for p in self.get_params(ctx)}
        shown: set[str | None] = set()
        for title, names in self.sections:
            records = []
            for name in names:
                param = params.get(name)
                record = param.get_help_record(ctx) if param is not None else None
                if record is not None:
                    records.append(record)
                    shown.add(name)
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)
        rest = [p.get_help_record(ctx) for n, p in params.items() if n not in shown]
        if any(rest):
            with formatter.section("Other options"):
                formatter.write_dl([r for r in rest if r is not None])


def _common_options(scenario: Scenario) -> list[click.Parameter]:
    base = scenario.default_config()
    spec = base.nemesis
    return [
        click.Option(["--seed"], type=int, default=None, help="Run this one seed [default: 0]."),
        click.Option(
            ["--seeds"], metavar="A-B", help="Sweep these seeds (e.g. 1-1000 or 1,5,9-12)."
        ),
        click.Option(
            ["--jobs"],
            type=click.IntRange(1),
            default=default_jobs(),
            show_default=True,
            help="Worker processes for a sweep.",
        ),
        click.Option(
            ["--on", "on"],
            metavar="ray[=ADDRESS]",
            default=None,
            help="Run a sweep's seeds as Ray tasks instead of local processes: a local Ray "
            "on --jobs CPUs, or the cluster at ADDRESS (needs archlab[scale]).",
        ),
        click.Option(
            ["--nodes"],
            type=click.IntRange(1, 64),
            default=base.nodes,
            show_default=True,
            help="Server processes (replicas) in the simulated cluster.",
        ),
        click.Option(
            ["--clients"],
            type=click.IntRange(1, 256),
            default=base.clients,
            show_default=True,
            help="Concurrent client processes.",
        ),
        click.Option(
            ["--ops"],
            type=click.IntRange(0),
            default=base.ops,
            show_default=True,
            help="Operations issued by all clients together.",
        ),
        click.Option(
            ["--nemesis"],
            default="none",
            show_default=True,
            metavar="FAULTS",
            help=f"Comma-separated faults: {', '.join(FAULT_KINDS)}.",
        ),
        click.Option(
            ["--nemesis-interval"],
            type=click.FloatRange(0, min_open=True),
            default=spec.interval,
            show_default=True,
            help="Mean quiet time between two faults of a kind (s).",
        ),
        click.Option(
            ["--fault-duration"],
            type=click.FloatRange(0, min_open=True),
            default=spec.duration,
            show_default=True,
            help="Mean duration of a fault (s).",
        ),
        click.Option(
            ["--loss"],
            type=click.FloatRange(0, 1),
            default=spec.loss,
            show_default=True,
            help="Message loss probability while a loss fault is active.",
        ),
        click.Option(
            ["--dup"],
            type=click.FloatRange(0, 1),
            default=spec.dup,
            show_default=True,
            help="Duplication probability while a dup fault is active.",
        ),
        click.Option(
            ["--reorder"],
            type=click.FloatRange(0, 1),
            default=spec.reorder,
            show_default=True,
            help="Reordering probability while a reorder fault is active.",
        ),
        click.Option(
            ["--max-skew"],
            type=click.FloatRange(0),
            default=spec.max_skew,
            show_default=True,
            help="Largest clock step of a clock-skew fault (s).",
        ),
        click.Option(
            ["--max-drift"],
            type=click.FloatRange(0, 1, max_open=True),
            default=spec.max_drift,
            show_default=True,
            help="Largest drift rate of a clock-skew fault (0.01 = 1%).",
        ),
        click.Option(
            ["--restart"],
            type=click.Choice(RESTART_POLICIES),
            default=spec.restart,
            show_default=True,
            help="How crashed nodes come back: disk kept, disk wiped, or either.",
        ),
        click.Option(
            ["--partitions"],
            default=",".join(spec.partitions),
            show_default=True,
            metavar="SHAPES",
            help=f"Partition shapes to draw from: {', '.join(PARTITION_SHAPES)}.",
        ),
        click.Option(
            ["--latency"],
            default=str(base.latency),
            show_default=True,
            metavar="DIST",
            help="Link latency: constant:D, uniform:LO,HI or lognormal:MEDIAN,SIGMA (s or ms).",
        ),
        click.Option(
            ["--fsync-latency"],
            default=str(base.fsync),
            show_default=True,
            metavar="DIST",
            help="Time a disk sync takes, same forms as --latency.",
        ),
        click.Option(
            ["--torn-writes"],
            is_flag=True,
            help="A crash may persist part of the unsynced writes, tearing the last.",
        ),
        click.Option(
            ["--client-timeout"],
            type=click.FloatRange(0, min_open=True),
            default=base.client_timeout,
            show_default=True,
            help="A client gives up (records info) after this long (s).",
        ),
        click.Option(
            ["--think-time"],
            default=str(base.think),
            show_default=True,
            metavar="DIST",
            help="A client's pause between two operations, same forms as --latency.",
        ),
        click.Option(
            ["--check-time-limit"],
            type=click.FloatRange(0, min_open=True),
            default=base.check_time_limit,
            show_default=True,
            help="Checker time limit per history (s); beyond it the verdict is unknown.",
        ),
        click.Option(
            ["--history"],
            type=click.Path(dir_okay=False, path_type=Path),
            help="Write the history (JSON Lines).",
        ),
        click.Option(
            ["--timeline"],
            type=click.Path(dir_okay=False, path_type=Path),
            help="Write an HTML timeline of the history with the faults shaded.",
        ),
        click.Option(
            ["--trace"],
            type=click.Path(dir_okay=False, path_type=Path),
            help="Write the event trace (JSON Lines: faults, messages, crashes ...).",
        ),
        click.Option(["--json", "as_json"], is_flag=True, help="Print the result as JSON."),
    ]


def _scenario_options(scenario: Scenario) -> list[click.Parameter]:
    params: list[click.Parameter] = []
    for option in scenario.options:
        kind: Any = (
            click.Choice(option.choices) if option.choices is not None else type(option.default)
        )
        help_text, metavar = option.help, None
        if option.choices is not None and len("|".join(option.choices)) > 30:
            # A long choice list as the metavar pushes every description to its own line.
            metavar = option.name.upper()
            help_text = f"{help_text} One of: {', '.join(option.choices)}."
        params.append(
            click.Option(
                [option.flag, option.name],
                type=kind,
                default=option.default,
                show_default=True,
                help=help_text,
                metavar=metavar,
            )
        )
    return params


def scenario_command(scenario: Scenario) -> click.Command:
    """The ``archlab sim <name>`` command of ``scenario``."""
    examples = "\n".join(f"  {e}" for e in scenario.examples) or f"  archlab sim {scenario.name}"
    help_text = (
        f"{scenario.summary}.\n\nChecks each history for linearizability (model "
        f"{scenario.model}). Exit 0 valid, 1 violation, 2 bad input, 3 inconclusive.\n\n"
        f"\b\nExamples:\n{examples}"
    )

    def callback(**kwargs: Any) -> None:
        _run_command(scenario, kwargs)

    own = (f"Options of {scenario.name}", tuple(o.name for o in scenario.options))
    return SectionedCommand(
        scenario.name,
        params=[*_scenario_options(scenario), *_common_options(scenario)],
        callback=callback,
        help=help_text,
        short_help=scenario.summary,
        sections=[own, *HELP_SECTIONS],
    )


# -- running -----------------------------------------------------------------------------


def config_from(scenario: Scenario, kwargs: dict[str, Any]) -> RunConfig:
    """The run configuration the options describe (the seed is set per run)."""
    nemesis = NemesisSpec.parse(
        kwargs["nemesis"],
        interval=kwargs["nemesis_interval"],
        duration=kwargs["fault_duration"],
        loss=kwargs["loss"],
        dup=kwargs["dup"],
        reorder=kwargs["reorder"],
        max_skew=kwargs["max_skew"],
        max_drift=kwargs["max_drift"],
        restart=kwargs["restart"],
        partitions=tuple(p.strip() for p in kwargs["partitions"].split(",") if p.strip()),
    )
    if "membership" in nemesis.faults and not scenario.supports_membership:
        raise ConfigError(
            f"--nemesis membership: scenario {scenario.name!r} does not support membership changes"
        )
    options = tuple(sorted((o.name, kwargs[o.name]) for o in scenario.options))
    return replace(
        scenario.default_config(),
        nodes=kwargs["nodes"],
        clients=kwargs["clients"],
        ops=kwargs["ops"],
        nemesis=nemesis,
        latency=parse_latency(kwargs["latency"], "--latency"),
        fsync=parse_latency(kwargs["fsync_latency"], "--fsync-latency"),
        torn_writes=kwargs["torn_writes"],
        client_timeout=kwargs["client_timeout"],
        think=parse_latency(kwargs["think_time"], "--think-time"),
        check_time_limit=kwargs["check_time_limit"],
        options=options,
    )


def _run_command(scenario: Scenario, kwargs: dict[str, Any]) -> None:
    if kwargs["seed"] is not None and kwargs["seeds"] is not None:
        raise ConfigError("give either --seed or --seeds, not both")
    from archlab.scale.rayengine import parse_on

    parse_on(kwargs.get("on"))
    _check_output_directories(kwargs)
    config = config_from(scenario, kwargs)
    if kwargs["seeds"] is not None:
        seeds = parse_seeds(kwargs["seeds"])
        code = _sweep(scenario, config, seeds, kwargs)
    else:
        code = _single(scenario, replace(config, seed=kwargs["seed"] or 0), kwargs)
    sys.exit(code)


def _exit_code(verdicts: Sequence[Any]) -> int:
    if any(v is False for v in verdicts):
        return EXIT_VIOLATION
    if any(v is not True for v in verdicts):
        return EXIT_UNKNOWN
    return EXIT_VALID


def _verdict_word(valid: Any) -> str:
    return {True: "valid", False: "VIOLATION"}.get(valid, "unknown")


def _single(scenario: Scenario, config: RunConfig, kwargs: dict[str, Any]) -> int:
    started = time.perf_counter()
    result, outcome = run_scenario(scenario, config)
    assert outcome is not None
    wall = time.perf_counter() - started
    command = reproduce_command(scenario, config)
    written = _write_artifacts(scenario, config, result, outcome, kwargs, per_seed=False)
    if kwargs["as_json"]:
        click.echo(json.dumps(_json_single(scenario, config, result, outcome, command, written)))
        return _exit_code([outcome.valid])
    ops = result.stats["ops"]
    click.echo(
        f"{scenario.name} seed {config.seed}: {sum(ops.values())} ops "
        f"({ops['ok']} ok, {ops['fail']} fail, {ops['info']} info), {len(result.faults)} faults, "
        f"{result.end_time:.2f} s simulated in {result.events_run} events, {wall:.2f} s wall"
    )
    for fault in result.faults:
        end = f"{fault.end:.3f}" if fault.end is not None else "end"
        click.echo(f"  fault {fault.start:7.3f}-{end:>7} s  {fault.label}")
    click.echo(f"verdict: {_verdict_word(outcome.valid)}: {outcome.summary}")
    for kind, path in written.items():
        click.echo(f"{kind}: {path}")
    click.echo(f"reproduce: {command}")
    return _exit_code([outcome.valid])


def _json_single(
    scenario: Scenario,
    config: RunConfig,
    result: RunResult,
    outcome: CheckOutcome,
    command: str,
    written: dict[str, str],
) -> dict[str, Any]:
    return {
        "scenario": scenario.name,
        "seed": config.seed,
        "valid": outcome.valid,
        "summary": outcome.summary,
        "command": command,
        "stats": result.stats,
        "faults": [f.to_dict() for f in result.faults],
        "check": outcome.details,
        "files": written,
    }


def _sweep(scenario: Scenario, config: RunConfig, seeds: list[int], kwargs: dict[str, Any]) -> int:
    as_json = bool(kwargs["as_json"])
    configs = [replace(config, seed=s) for s in seeds]
    reports: list[RunReport] = []
    started = time.perf_counter()
    jobs = min(int(kwargs["jobs"]), len(configs))
    seed_width = max(len(str(s)) for s in seeds)
    counts_width = 3 * len(str(config.ops)) + 2
    engine = _engine(kwargs.get("on"), jobs)
    with (
        engine as workers,
        for_terminal(quiet=as_json) as progress,
        progress.task(f"{scenario.name}: {len(seeds)} seeds", len(seeds)) as task,
    ):
        for report in workers.sweep(scenario.name, configs):
            reports.append(report)
            task.advance()
            if not as_json:
                ops = report.ops
                counts = f"{ops['ok']}/{ops['fail']}/{ops['info']}"
                click.echo(
                    f"seed {report.seed:>{seed_width}}: {_verdict_word(report.valid):9} "
                    f"{counts:>{counts_width}} ok/fail/info, "
                    f"{report.faults:>3} faults  {report.command}"
                )
    wall = time.perf_counter() - started
    failing = [r for r in reports if r.valid is False]
    unknown = [r for r in reports if r.valid not in (True, False)]
    written: dict[int, dict[str, str]] = {}
    for report in [*failing, *unknown]:
        cfg = replace(config, seed=report.seed)
        if any(kwargs[k] for k in ("history", "timeline", "trace")):
            result, outcome = run_scenario(scenario, cfg)
            assert outcome is not None
            written[report.seed] = _write_artifacts(
                scenario, cfg, result, outcome, kwargs, per_seed=True
            )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "scenario": scenario.name,
                    "seeds": len(reports),
                    "valid": sum(1 for r in reports if r.valid is True),
                    "violations": [r.to_dict() for r in failing],
                    "unknown": [r.to_dict() for r in unknown],
                    "wall_seconds": round(wall, 3),
                    "jobs": jobs,
                    "engine": "local" if isinstance(engine, Workers) else "ray",
                    "runs": [r.to_dict() for r in reports],
                    "files": {str(k): v for k, v in written.items()},
                }
            )
        )
        return _exit_code([r.valid for r in reports])
    valid = sum(1 for r in reports if r.valid is True)
    click.echo(
        f"{len(reports)} seeds in {wall:.1f} s on {_where(engine, jobs)}: {valid} valid, "
        f"{len(failing)} violations, {len(unknown)} unknown"
    )
    for report in failing:
        click.echo(f"VIOLATION seed {report.seed}: {report.summary}")
        click.echo(f"  reproduce: {report.command}")
        for kind, path in written.get(report.seed, {}).items():
            click.echo(f"  {kind}: {path}")
    for report in unknown:
        click.echo(f"unknown seed {report.seed}: {report.summary}")
        click.echo(f"  reproduce: {report.command}")
    return _exit_code([r.valid for r in reports])


def _engine(on: str | None, jobs: int) -> Any:
    """The local process pool, or Ray tasks for ``--on ray[=ADDRESS]``."""
    from archlab.scale.rayengine import parse_on

    address = parse_on(on)
    if address is None:
        return Workers(jobs)
    from archlab.scale.rayengine import RayWorkers

    return RayWorkers(address, jobs)


def _where(engine: Any, jobs: int) -> str:
    if isinstance(engine, Workers):
        return f"{jobs} worker(s)"
    return f"Ray ({engine.cpus} CPUs)"


# -- files -------------------------------------------------------------------------------


def _seeded(path: Path, seed: int) -> Path:
    return path.with_name(f"{path.stem}-seed{seed}{path.suffix}")


def _write_artifacts(
    scenario: Scenario,
    config: RunConfig,
    result: RunResult,
    outcome: CheckOutcome,
    kwargs: dict[str, Any],
    per_seed: bool,
) -> dict[str, str]:
    written: dict[str, str] = {}
    writers: dict[str, Callable[[Path], None]] = {
        "history": lambda p: _write_text(p, result.history_text()),
        "trace": lambda p: _write_text(p, result.trace.dumps()),
        "timeline": lambda p: _write_text(p, timeline_html(scenario, config, result, outcome)),
    }
    for kind, write in writers.items():
        path = kwargs.get(kind)
        if path is None:
            continue
        target = _seeded(path, config.seed) if per_seed else path
        write(target)
        written[kind] = str(target)
    return written


def _check_output_directories(kwargs: dict[str, Any]) -> None:
    """Refuse, before running anything, an output file whose directory does not exist."""
    for kind in ("history", "timeline", "trace"):
        path = kwargs.get(kind)
        if path is None:
            continue
        parent = path.parent
        if not parent.is_dir():
            what = "is not a directory" if parent.exists() else "does not exist"
            raise ConfigError(f"--{kind} {path}: the directory {parent} {what}")


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ArchlabError(f"cannot write {path}: {exc.strerror}") from None


def timeline_html(
    scenario: Scenario, config: RunConfig, result: RunResult, outcome: CheckOutcome
) -> str:
    """The history drawn per process, faults as shaded bands, the verdict as a note."""
    from archlab.check.timeline import render_timeline

    return render_timeline(
        result.history,
        title=f"archlab sim {scenario.name}, seed {config.seed}: {_verdict_word(outcome.valid)}",
        faults=result.fault_bands,
        highlight=outcome.highlight,
        order=outcome.order,
        notes=(outcome.summary, f"reproduce: {reproduce_command(scenario, config)}"),
    )
