"""Codex 5.2: what commit wait costs, about 2ε per read-write commit.

``txn.commit_wait_latency`` runs the Spanner-style store (:mod:`archlab.txn.spanner`) with
appends spread over 64 keys, commit wait off and on, at several clock uncertainties, and
compares the latency commit wait adds with twice the mean ε the coordinators had when they
chose the commit timestamps. Spanner's own numbers (expected wait at least 2ε̄; Table 3: +5
ms) are in docs/references.md §5.1–5.3.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from archlab.lab import (
    Column,
    Context,
    Evidence,
    Figure,
    Judgement,
    Outcome,
    Series,
    Table,
    Threshold,
    experiment,
    holds,
    nuanced,
    refuted,
)
from archlab.txn.external_consistency import SPANNER_REFERENCE
from archlab.txn.spanner import SpannerSetup, SpreadAppends, committed_latencies, spanner_world

#: Spanner Table 3: commit wait added 5 ms (14.4 vs 9.4 ms) at an ε̄ of about 4 ms, i.e. 5/8 of
#: 2ε̄: part of the wait overlaps the commit's own log write. Less than that is cheaper than
#: Spanner's own measurement.
LEAST_RATIO = Threshold(
    0.625,
    "x",
    "Spanner Table 3: +5 ms at ε̄ ≈ 4 ms, i.e. 5/8 of 2ε̄ (docs/references.md §5.1–5.3)",
)
#: The wait itself is 2ε plus ε's growth during the wait (2 x bound x wait: under 4% at the
#: largest bound, 20 ms/s); the rest of a quarter allows the lock waits that commit wait adds to
#: commits contending with it (the added/2ε̄ ratio measured 1.02–1.15 over seeds 0–5).
MOST_RATIO = Threshold(
    1.25,
    "x",
    "2ε̄ + ε's growth while waiting (< 4%) + lock waits (measured ≤ 15% over 6 seeds)",
)
#: "Proportional to clock uncertainty": 2 ms of latency per ms of ε̄; under half that, the
#: cost does not follow ε.
LEAST_SLOPE = Threshold(
    1.0, "ms/ms", "Spanner: expected wait ≥ 2ε̄, i.e. slope 2; half of it is the least"
)


@dataclass(frozen=True)
class UncertaintyLevel:
    """One drift bound: mean ε at commit and the clients' mean commit latencies (seconds)."""

    drift_bound: float
    epsilon_s: float
    latency_without_s: float
    latency_with_s: float
    commit_wait_s: float

    @property
    def added_s(self) -> float:
        return self.latency_with_s - self.latency_without_s

    @property
    def ratio(self) -> float:
        """Added latency over 2ε̄."""
        return self.added_s / (2 * self.epsilon_s) if self.epsilon_s > 0 else 0.0


@dataclass(frozen=True)
class CommitWaitMeasurement:
    levels: tuple[UncertaintyLevel, ...]

    @property
    def slope(self) -> float:
        """Added latency per unit of ε̄ (least squares over the levels)."""
        return _slope([v.epsilon_s for v in self.levels], [v.added_s for v in self.levels])


def judge_commit_wait_latency(m: CommitWaitMeasurement) -> Judgement:
    ratios = [v.ratio for v in m.levels]
    low_level = min(m.levels, key=lambda v: v.ratio)
    high_level = max(m.levels, key=lambda v: v.ratio)
    reference = min(m.levels, key=lambda v: abs(v.epsilon_s - 0.004))
    least = Evidence(
        f"added / 2ε̄, least (ε̄ {1000 * low_level.epsilon_s:.1f} ms)",
        round(low_level.ratio, 3),
        "x",
        at_least=LEAST_RATIO,
    )
    most = Evidence(
        f"added / 2ε̄, most (ε̄ {1000 * high_level.epsilon_s:.1f} ms)",
        round(high_level.ratio, 3),
        "x",
        at_most=MOST_RATIO,
    )
    slope = Evidence("added latency per ms of ε̄", round(m.slope, 3), "ms/ms", at_least=LEAST_SLOPE)
    evidence = (least, most, slope)
    text = (
        f"commit wait added {min(ratios):.2f}-{max(ratios):.2f}x 2ε̄ to the commit latency "
        f"across {len(m.levels)} uncertainty levels (slope {m.slope:.2f} ms per ms of ε̄; at "
        f"Spanner-like ε̄ = {1000 * reference.epsilon_s:.1f} ms it added "
        f"{1000 * reference.added_s:.1f} ms, Spanner's Table 3 +5 ms)"
    )
    if high_level.ratio < LEAST_RATIO.value or not slope.met:
        return refuted(text + ": the cost does not follow 2ε", *evidence)
    if least.met and most.met:
        return holds(text, *evidence)
    return nuanced(text, *evidence)


def measure_level(
    bound: float, seeds: Sequence[int], ops: int, *, commit_wait: bool = True
) -> UncertaintyLevel:
    """Mean commit latencies without and with commit wait at one drift bound.

    ``commit_wait=False`` leaves commit wait off on the "with" side too: the broken store the
    tests use to show the judge refuting a cost that is not there.
    """
    latency: dict[bool, list[float]] = {False: [], True: []}
    eps: list[float] = []
    waits: list[float] = []
    for wait in (False, True):
        setup = SpannerSetup(
            commit_wait=wait and commit_wait, drift_bound=bound, max_drift=bound / 2
        )
        for seed in seeds:
            result = spanner_world(seed, setup, SpreadAppends(), clients=4, ops=ops).run()
            latency[wait] += committed_latencies(result.history, read_only=False)
            if wait:
                eps += result.stats["audit"]["commit_epsilons"]
                waits += result.stats["audit"]["commit_waits"]
    return UncertaintyLevel(
        drift_bound=bound,
        epsilon_s=round(statistics.fmean(eps), 6),
        latency_without_s=round(statistics.fmean(latency[False]), 6),
        latency_with_s=round(statistics.fmean(latency[True]), 6),
        commit_wait_s=round(statistics.fmean(waits), 6) if waits else 0.0,
    )


@experiment(
    id="txn.commit_wait_latency",
    section="5.2",
    title="What commit wait costs: about 2ε per commit",
    claim="""Commit wait holds every read-write commit until TT.after(its timestamp). The
    timestamp is at least TT.now().latest when chosen, so the wait is about the width of the
    interval, 2ε: Spanner trades a latency proportional to clock uncertainty for external
    consistency, which is why it invests in keeping ε small.""",
    method="""The Spanner-style store with appends to one or two of 64 keys (little lock
    contention, so the latency is the protocol's), clients issuing back to back. For each
    drift bound of the profile (setting the sawtooth's height), the same seeds run with commit
    wait off and on; the added latency is the difference of the mean commit latencies seen by
    the clients, compared with twice the mean ε the coordinators had when they chose the
    commit timestamps.""",
    judge=judge_commit_wait_latency,
    rule="""per drift bound, the latency commit wait adds (mean with minus mean without) over
    2ε̄ (twice the mean ε at commit). Holds when every level's ratio lies between 0.625x
    (Spanner's Table 3: +5 ms at ε̄ ≈ 4 ms, the wait partly overlapping the log write) and
    1.25x (2ε̄ plus ε's growth during the wait and the lock waits it adds to contending
    commits, measured ≤ 15%) and the added latency grows at least 1 ms per ms of ε̄ (half of
    the expected 2); refuted when even the largest ratio is under 0.625x or the slope under 1;
    nuanced otherwise.""",
    ranges={"drift_bounds": (0.0, 0.99)},  # a clock rate of 1 ± bound must stay positive
    profiles={
        "quick": {"seeds": 2, "ops": 120, "drift_bounds": [0.001, 0.006, 0.02]},
        "full": {"seeds": 10, "ops": 400, "drift_bounds": [0.001, 0.003, 0.006, 0.012, 0.02]},
    },
    references=[SPANNER_REFERENCE],
)
def commit_wait_latency(ctx: Context) -> Outcome[CommitWaitMeasurement]:
    p = ctx.params
    bounds = [float(b) for b in p["drift_bounds"]]
    seeds = [ctx.seed * 10_000 + i for i in range(int(p["seeds"]))]
    table = Table(
        "Commit latency with and without commit wait",
        [
            Column("drift bound", "ms/s"),
            Column("mean ε at commit", "ms"),
            Column("latency, no wait", "ms"),
            Column("latency, commit wait", "ms"),
            Column("added", "ms"),
            Column("2ε̄", "ms"),
            Column("added / 2ε̄"),
            Column("mean commit wait", "ms"),
        ],
    )
    levels = []
    with ctx.progress.task("commit wait", len(bounds)) as task:
        for bound in bounds:
            level = measure_level(bound, seeds, int(p["ops"]))
            levels.append(level)
            table.add(
                bound * 1000,
                round(level.epsilon_s * 1000, 2),
                round(level.latency_without_s * 1000, 2),
                round(level.latency_with_s * 1000, 2),
                round(level.added_s * 1000, 2),
                round(2 * level.epsilon_s * 1000, 2),
                round(level.ratio, 2),
                round(level.commit_wait_s * 1000, 2),
            )
            task.advance()
    measured = CommitWaitMeasurement(tuple(levels))
    epsilons = [v.epsilon_s for v in levels]
    added = [v.added_s for v in levels]
    waits = [v.commit_wait_s for v in levels]
    ratios = [v.ratio for v in levels]
    slope = measured.slope
    eps_ms = [e * 1000 for e in epsilons]
    figure = Figure(
        "Latency added by commit wait vs clock uncertainty",
        x_label="mean ε when the commit timestamp was chosen (ms)",
        y_label="added commit latency (ms)",
        series=[
            Series("measured (with - without)", eps_ms, [a * 1000 for a in added], "scatter"),
            Series("2ε̄ (expected)", eps_ms, [2 * e for e in eps_ms]),
            Series("mean commit wait", eps_ms, [w * 1000 for w in waits], "scatter"),
        ],
        caption="Spanner's Table 3: 14.4 ms with commit wait vs 9.4 ms without (+5 ms).",
    )
    return Outcome(
        measured,
        summary=(f"commit wait added {min(ratios):.2f}-{max(ratios):.2f}x 2ε̄ (slope {slope:.2f})"),
        tables=[table],
        figures=[figure],
    )


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``ys`` on ``xs``."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var
