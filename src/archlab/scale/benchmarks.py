"""``archlab bench sweep``: seeds per second on one process, the local pool and Ray.

The same seeds of ``archlab sim raft`` (partitions and crashes) run on three engines, in
interleaved rounds: one process (``--jobs 1``), the local process pool on two workers (``--jobs
2``) and Ray tasks on a local Ray of two CPUs (``--on ray``), the engine's start-up measured
apart. The ratios are the pool's speed-up over one process and Ray's speed against the pool on
the same cores: the cost of the engine itself. Every engine's reports are compared with the
one process's, seed by seed (timings aside): a sweep is only faster if it is the same sweep.
"""

from __future__ import annotations

import time
from dataclasses import replace

from archlab.lab.bench import BenchContext, BenchReport, Ratio, benchmark, interleaved, median
from archlab.lab.result import Column
from archlab.scale.rayengine import RayWorkers
from archlab.sim.nemesis import NemesisSpec
from archlab.sim.scenario import RunConfig, RunReport, get_scenario
from archlab.sim.sweep import Workers

#: Two workers on two cores: the ideal speed-up is 2, process start-up and the driver aside.
POOL_GOAL = 1.6
#: Ray on the same cores should cost at most a tenth of the pool's throughput.
RAY_GOAL = 0.9


def _configs(seeds: int) -> list[RunConfig]:
    base = replace(
        get_scenario("raft").default_config(),
        ops=100,
        nemesis=NemesisSpec.parse("partition,crash"),
    )
    return [replace(base, seed=s) for s in range(1, seeds + 1)]


def _plain(reports: list[RunReport]) -> list[dict[str, object]]:
    return [
        {k: v for k, v in r.to_dict().items() if k not in ("sim_seconds", "check_seconds")}
        for r in reports
    ]


@benchmark(
    name="sweep",
    title="Seed sweeps: one process, the local pool and Ray",
    description="""Seeds per second of `archlab sim raft --nemesis partition,crash --ops 100`
    on one process, the local pool of two workers and a local Ray of two CPUs (start-up
    apart), interleaved rounds, medians and spreads; every engine's reports equal the one
    process's, seed by seed.""",
)
def bench_sweep(ctx: BenchContext) -> BenchReport:
    configs = _configs(16 if ctx.quick else 120)
    rounds = 3
    reference: list[dict[str, object]] = []
    mismatches: list[str] = []

    def trial(engine: Workers | RayWorkers, name: str) -> float:
        started = time.perf_counter()
        reports = list(engine.sweep("raft", configs))
        elapsed = time.perf_counter() - started
        plain = _plain(reports)
        if not reference:
            reference.extend(plain)
        elif plain != reference:
            mismatches.append(name)
        return len(configs) / elapsed

    started = time.perf_counter()
    with Workers(1) as one, Workers(2) as pool, RayWorkers("", 2) as ray_workers:
        start_up = time.perf_counter() - started
        samples = interleaved(
            {
                "one process": lambda: trial(one, "one process"),
                "local pool (2)": lambda: trial(pool, "local pool (2)"),
                "ray (2 CPUs)": lambda: trial(ray_workers, "ray (2 CPUs)"),
            },
            rounds,
            ctx.progress,
        )
    rows = [
        {
            "engine": name,
            "seeds_per_s": median(values),
            "min": min(values),
            "max": max(values),
            "seeds": len(configs),
        }
        for name, values in samples.items()
    ]
    notes = [
        f"Start-up of the pool and the local Ray together: {start_up:.1f} s (not in the rates).",
        "Reports identical to one process's, seed by seed: "
        + ("yes" if not mismatches else f"NO ({', '.join(sorted(set(mismatches)))})"),
    ]
    return BenchReport(
        columns=[
            Column("engine"),
            Column("seeds_per_s", "seeds/s", "median over the rounds"),
            Column("min", "seeds/s"),
            Column("max", "seeds/s"),
            Column("seeds"),
        ],
        rows=rows,
        ratios=[
            Ratio.of_rounds(
                "local pool (2) / one process",
                samples["local pool (2)"],
                samples["one process"],
                POOL_GOAL,
            ),
            Ratio.of_rounds(
                "ray (2 CPUs) / local pool (2)",
                samples["ray (2 CPUs)"],
                samples["local pool (2)"],
                RAY_GOAL,
            ),
        ],
        notes=notes,
    )
