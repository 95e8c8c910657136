"""The lab's commands: ``list``, ``run``, ``report``, ``compare`` and ``bench``."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import sys
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from archlab.errors import ArchlabError, ConfigError, InputFormatError
from archlab.lab import bench as bench_mod, console as show, format as fmt, registry, runner
from archlab.lab.progress import for_terminal
from archlab.lab.registry import PROFILES, Experiment
from archlab.lab.result import Result

DEFAULT_REPORT = Path("results/report.html")

PROFILE_OPTION = click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default="quick",
    show_default=True,
    help="quick: minutes on two cores; full: publication-grade numbers.",
)
SEED_OPTION = click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of every random choice the experiments make.",
)


def scratch_root() -> Path:
    """Where experiments and benchmarks put their files: real disk, not a tmpfs."""
    return Path(os.environ.get("ARCHLAB_SCRATCH", ".archlab/scratch")).resolve()


def _stdout() -> Console:
    return Console(highlight=False, soft_wrap=False)


@click.command("list")
@click.option("--chapter", type=click.IntRange(1, 10), help="Only claims of this codex chapter.")
@click.option("--long", "long_form", is_flag=True, help="Each claim's whole paragraph too.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array with id, section, claim ...")
def list_command(chapter: int | None, long_form: bool, as_json: bool) -> None:
    """List the claims archlab measures, in codex order: section, id and short title.

    \b
    Examples:
      archlab list
      archlab list --chapter 4 --long
      archlab list --json | jq '.[].id'
    """
    experiments = [e for e in registry.all_experiments() if chapter in (None, e.chapter)]
    if as_json:
        click.echo(json.dumps([_describe(e) for e in experiments], indent=2))
        return
    if not experiments:
        from archlab.lab.chapters import chapter_title

        chapters = sorted({e.chapter for e in registry.all_experiments()})
        click.echo(
            f"chapter {chapter} ({chapter_title(chapter or 0)}) has no experiments yet; "
            f"chapters with experiments: {', '.join(map(str, chapters))}"
        )
        return
    out = RichTable(
        title=f"{len(experiments)} claims",
        title_justify="left",
        caption=None if long_form else "each claim in full: archlab list --long",
        caption_justify="left",
    )
    out.add_column("§", justify="right", style="dim")
    out.add_column("id", style="bold cyan", no_wrap=True)
    out.add_column("claim")
    for e in experiments:
        claim = Text(e.title)
        if long_form:
            claim.append(f"\n{e.claim}", style="dim")
        out.add_row(e.section, e.id, claim)
    _stdout().print(out)


def _describe(e: Experiment) -> dict[str, Any]:
    return {
        "id": e.id,
        "section": e.section,
        "chapter": e.chapter,
        "title": e.title,
        "claim": e.claim,
        "method": e.method,
        "profiles": {k: dict(v) for k, v in e.profiles.items()},
    }


def _parse_sets(pairs: Sequence[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigError(f"--set expects NAME=VALUE, got {pair!r}")
        overrides[name.strip()] = value.strip()
    return overrides


@click.command("run")
@click.argument("experiment_id", metavar="ID")
@PROFILE_OPTION
@SEED_OPTION
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override one parameter of the profile (repeatable); checked against its valid "
    "range before anything runs.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the Result as one JSON object.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Where the result JSON and the figures (SVG) go.",
)
def run_command(
    experiment_id: str, profile: str, seed: int, sets: Sequence[str], as_json: bool, out: Path
) -> None:
    """Measure one claim and print its tables and computed verdict.

    \b
    Examples:
      archlab run streaming.sequential_io
      archlab run streaming.zero_copy --profile full --seed 7
      archlab run streaming.sequential_io --set file_mb=256 --json
    """
    exp = registry.get(experiment_id)
    overrides = _parse_sets(sets)
    with for_terminal(quiet=as_json) as progress:
        result = runner.run(
            exp,
            profile=profile,
            seed=seed,
            overrides=overrides,
            progress=progress,
            scratch_root=scratch_root(),
        )
    result.save(out)
    figure_paths = _save_figures(result, out)
    if as_json:
        click.echo(result.to_json())
    else:
        show.show_result(_stdout(), result, [str(p) for p in figure_paths])
    if not result.ok:
        sys.exit(1)


def _save_figures(result: Result, out: Path) -> list[Path]:
    if not result.figures:
        return []
    from archlab.lab.plots import render_svg

    directory = out / result.id
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, figure in enumerate(result.figures, 1):
        slug = re.sub(r"[^a-z0-9]+", "-", figure.title.lower()).strip("-")[:48] or "figure"
        path = directory / f"{i:02d}-{slug}.svg"
        svg = render_svg(figure).replace(
            "<svg ",
            '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ',
            1,
        )
        path.write_text(svg, encoding="utf-8")
        paths.append(path)
    return paths


def _select(patterns: Sequence[str]) -> list[Experiment]:
    experiments = registry.all_experiments()
    if not patterns:
        return experiments
    globs = [g.strip() for p in patterns for g in p.split(",") if g.strip()]
    chosen = [e for e in experiments if any(fnmatch.fnmatchcase(e.id, g) for g in globs)]
    if not chosen:
        raise ConfigError(f"--only {','.join(globs)} matches no experiment (see 'archlab list')")
    return chosen


@click.command("report")
@PROFILE_OPTION
@SEED_OPTION
@click.option(
    "--only",
    multiple=True,
    metavar="GLOB",
    help="Only experiments whose id matches (repeatable or comma-separated).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_REPORT,
    show_default=True,
    help="The HTML file.",
)
@click.option(
    "--from-results",
    type=click.Path(path_type=Path),
    default=None,
    help="Rebuild the report from saved result JSON in this directory; run nothing.",
)
@click.option(
    "--results-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where each result's JSON is saved as soon as it is measured [default: results/ "
    "for the default -o, else OUTPUT-STEM-results/ beside the output].",
)
@click.option(
    "--on",
    metavar="ray[=ADDRESS]",
    default=None,
    help="Measure the experiments as Ray tasks: a local Ray, or the cluster at ADDRESS "
    "(needs archlab[scale]).",
)
def report_command(
    profile: str,
    seed: int,
    only: Sequence[str],
    output: Path,
    from_results: Path | None,
    results_dir: Path | None,
    on: str | None,
) -> None:
    """Measure every claim and write one self-contained HTML report.

    The report needs no network to open: styles, script and plots are inline. Each result
    is saved as JSON the moment it is measured, so an interrupted run keeps what finished and
    --from-results rebuilds the page without measuring again. With -o elsewhere than the
    default, the JSON goes beside it (storage.html: storage-results/), so another report's
    results are never overwritten; a result file that is replaced is reported.

    \b
    Examples:
      archlab report                              quick profile, every claim
      archlab report --only 'storage.*' -o storage.html
      archlab report --profile full
      archlab report --profile full --on ray=HEAD:6379
      archlab report --from-results results       rebuild the page only
    """
    from archlab.lab import report

    console = Console(stderr=True, highlight=False)
    if from_results is not None:
        results = report.load_results(from_results)
        if only:
            globs = [g.strip() for p in only for g in p.split(",") if g.strip()]
            results = [r for r in results if any(fnmatch.fnmatchcase(r.id, g) for g in globs)]
            if not results:
                raise ConfigError(f"--only matches no result in {from_results}")
    else:
        directory = results_dir if results_dir is not None else results_beside(output)
        results = _run_all(_select(only), profile, seed, directory, console, on)
    path = report.write(results, output).resolve()
    _summary(console, results)
    failed = [r.id for r in results if not r.ok]
    if failed:
        console.print(f"[red]{len(failed)} experiment(s) failed:[/red] {', '.join(failed)}")
    click.echo(f"report: {path}")
    if failed:
        sys.exit(1)


def results_beside(output: Path) -> Path:
    """Where a report's result JSON goes when --results-dir is not given."""
    if output == DEFAULT_REPORT:
        return DEFAULT_REPORT.parent
    return output.parent / f"{output.stem}-results"


def _run_all(
    experiments: Sequence[Experiment],
    profile: str,
    seed: int,
    results_dir: Path,
    console: Console,
    on: str | None = None,
) -> list[Result]:
    from archlab.scale.rayengine import parse_on

    address = parse_on(on)
    results = []
    replaced = [e.id for e in experiments if (results_dir / f"{e.id}.json").exists()]
    with for_terminal() as progress, progress.task("experiments", len(experiments)) as overall:
        on_ray: Generator[Result, None, None] | None = None
        if address is not None:
            from archlab.scale.rayengine import run_experiments

            ids = [e.id for e in experiments]
            on_ray = run_experiments(ids, profile, seed, scratch_root(), address)
        for exp in experiments:
            overall.update(description=f"{exp.id}")
            if on_ray is not None:
                result = next(on_ray)
            else:
                result = runner.run(
                    exp, profile=profile, seed=seed, progress=progress, scratch_root=scratch_root()
                )
            result.save(results_dir)
            results.append(result)
            overall.advance()
            if not sys.stderr.isatty():
                console.print(f"{exp.id}: {result.verdict or 'error'} ({result.wall_time_s:.1f} s)")
        if on_ray is not None:
            on_ray.close()  # shuts down the Ray it started
    console.print(f"results: {len(results)} JSON file(s) in {results_dir}", highlight=False)
    if replaced:
        console.print(
            f"[yellow]note:[/yellow] replaced {len(replaced)} earlier result file(s) in "
            f"{results_dir} ({', '.join(replaced[:3])}{' ...' if len(replaced) > 3 else ''})",
            highlight=False,
        )
    return results


def _summary(console: Console, results: Sequence[Result]) -> None:
    out = RichTable(title="verdicts", title_justify="left")
    out.add_column("§", justify="right", style="dim")
    out.add_column("id", style="cyan")
    out.add_column("verdict")
    out.add_column("summary")
    for r in results:
        summary = fmt.prose(r.summary or (r.error or ""))
        out.add_row(r.section, r.id, show.verdict_text(r), summary)
    console.print(out)


def _load_run(path: Path) -> dict[str, Result]:
    if path.is_dir():
        from archlab.lab.report import load_results

        return {r.id: r for r in load_results(path)}
    if not path.exists():
        raise InputFormatError(path, "no such file or directory")
    result = Result.load(path)
    return {result.id: result}


@click.command("compare")
@click.argument("before", type=click.Path(path_type=Path))
@click.argument("after", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare_command(before: Path, after: Path, as_json: bool) -> None:
    """Compare two runs value by value (two result directories or two result files).

    \b
    Examples:
      archlab compare results-main/ results/
      archlab compare old/storage.compaction_styles.json results/storage.compaction_styles.json
    """
    a, b = _load_run(before), _load_run(after)
    common = sorted(set(a) & set(b))
    if not common:
        raise ArchlabError(f"{before} and {after} share no experiment id")
    rows = []
    for exp_id in common:
        ra, rb = a[exp_id], b[exp_id]
        for key in sorted(set(ra.values) | set(rb.values)):
            va, vb = ra.values.get(key), rb.values.get(key)
            change = None
            if (
                isinstance(va, int | float)
                and isinstance(vb, int | float)
                and va
                and not (isinstance(va, bool) or isinstance(vb, bool))
            ):
                change = vb / va
            rows.append(
                {
                    "id": exp_id,
                    "value": key,
                    "before": va,
                    "after": vb,
                    "ratio": change,
                    "verdict_before": ra.verdict,
                    "verdict_after": rb.verdict,
                }
            )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    out = RichTable(title=f"{before} → {after}", title_justify="left")
    for name in ("id", "value", "before", "after", "after/before", "verdict"):
        out.add_column(
            name, justify="right" if name in {"before", "after", "after/before"} else "left"
        )
    for row in rows:
        verdict = str(row["verdict_after"])
        if row["verdict_before"] != row["verdict_after"]:
            verdict = f"{row['verdict_before']} → {row['verdict_after']}"
        ratio = row["ratio"]
        out.add_row(
            str(row["id"]),
            str(row["value"]),
            fmt.number(row["before"]),
            fmt.number(row["after"]),
            "–" if ratio is None else f"{ratio:.2f}x",
            verdict,
        )
    _stdout().print(out)


@click.command("bench")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--quick", is_flag=True, help="Smaller data sets: a first look in seconds.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the measured rows as a JSON array (one object per system × workload).",
)
@click.option("--markdown", is_flag=True, help="Print a BENCHMARKS.md section for each.")
@click.option(
    "--trace",
    "trace_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An extra editing trace to replay too (benchmarks that replay traces: collab).",
)
@SEED_OPTION
def bench_command(
    names: Sequence[str],
    quick: bool,
    as_json: bool,
    markdown: bool,
    trace_files: tuple[Path, ...],
    seed: int,
) -> None:
    """Measure archlab against real peers side by side; report ratios.

    Without NAME, lists the benchmarks. Peers are optional: install them with
    pip install -e '.[peers]'. A missing peer is reported, never estimated.

    \b
    Examples:
      archlab bench
      archlab bench ids --json
      archlab bench storage --quick --markdown >> BENCHMARKS.md
      archlab bench collab --trace my-trace.json.gz
    """
    if not names:
        out = RichTable(title="benchmarks", title_justify="left")
        out.add_column("name", style="cyan")
        out.add_column("what it measures")
        for b in bench_mod.all_benchmarks():
            out.add_row(b.name, b.description)
        _stdout().print(out)
        return
    benches = [bench_mod.get(n) for n in names]
    rows: list[dict[str, Any]] = []
    for b in benches:
        with for_terminal(quiet=as_json) as progress:
            scratch = scratch_root() / f"bench-{b.name}"
            scratch.mkdir(parents=True, exist_ok=True)
            ctx = bench_mod.BenchContext(
                quick=quick, seed=seed, scratch=scratch, progress=progress, traces=trace_files
            )
            result = b.run(ctx)
        rows += [{"benchmark": b.name, **row} for row in result.rows]
        command = shlex.join(["archlab", "bench", b.name, *(["--quick"] if quick else [])])
        if markdown:
            from archlab.lab.environment import current

            env = current()
            click.echo(
                bench_mod.markdown(
                    b,
                    result,
                    command,
                    f"{env.cpu_model}, {env.cpu_count} cores, Python {env.python_version}, "
                    f"archlab {env.archlab_version}, {env.started_at}",
                )
            )
        elif not as_json:
            show.show_bench(_stdout(), b.title, result)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))


LAB_COMMANDS: list[click.Command] = [
    list_command,
    run_command,
    report_command,
    compare_command,
    bench_command,
]
