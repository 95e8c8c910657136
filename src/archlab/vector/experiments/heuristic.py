"""``vector.heuristic`` (codex 8.1, algorithm 4): does the neighbour-selection heuristic pay off?

Algorithm 3 links a new element to its M nearest candidates; algorithm 4 skips a candidate
that is nearer to an already chosen neighbour than to the new element, so links point in
different directions and clusters stay connected to each other. The paper reports that the
heuristic matters most for clustered and low-dimensional data. Here both are built on the same
clustered and uniform data (same dimension, seed and parameters), and compared by the distance
evaluations per query needed for the target recall@10.
"""

from __future__ import annotations

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
from archlab.vector.datasets import ground_truth, make_dataset
from archlab.vector.sweeps import Point, build_archlab, curve, interpolate

#: A 10% saving: evaluation counts at a fixed ef vary by a few percent between seeds, so a
#: smaller difference could be the draw of levels rather than the selection rule.
MATTERS = Threshold(1.1, "x", "10% fewer evaluations, above the few-percent spread across seeds")
#: The paper: the heuristic's advantage is largest on clustered data.
MOST_ON_CLUSTERS = Threshold(
    1.0, "x", "Malkov & Yashunin on algorithm 4: it helps most on clustered data (references §8.1)"
)
DATA = ("clustered", "uniform")
SELECTIONS = ("heuristic", "simple")


@dataclass(frozen=True)
class SelectionRun:
    data: str
    selection: str
    reached: bool  # reached the target recall within the ef ladder
    evaluations: float  # per query at the target (or at the largest ef tried, if not reached)
    best_recall: float


@dataclass(frozen=True)
class HeuristicEffect:
    target_recall: float
    runs: list[SelectionRun]
    saving_clustered: float  # simple / heuristic evaluations at the target, clustered data
    saving_uniform: float  # the same on uniform data


def judge_heuristic(m: HeuristicEffect) -> Judgement:
    clustered = Evidence("simple / heuristic evaluations, clustered", m.saving_clustered, "x",
                         at_least=MATTERS)  # fmt: skip
    relative = m.saving_clustered / m.saving_uniform if m.saving_uniform > 0 else 0.0
    most = Evidence("clustered saving / uniform saving", round(relative, 3), "x",
                    at_least=MOST_ON_CLUSTERS)  # fmt: skip
    text = (
        f"to reach recall@10 {m.target_recall:g} the simple selection needs "
        f"{m.saving_clustered:.2f}x the heuristic's distance evaluations on clustered data and "
        f"{m.saving_uniform:.2f}x on uniform data"
    )
    if not clustered.met:
        return refuted(text + ": the heuristic does not pay off even on clustered data", clustered)
    if most.met:
        return holds(text + ": the heuristic pays off, most on clustered data", clustered, most)
    return nuanced(text + ": it pays off, but no more on clustered than on uniform data",
                   clustered, most)  # fmt: skip


def _cost(points: list[Point], target: float) -> tuple[bool, float]:
    at = interpolate(points, target)
    if at is None:  # a lower bound on the cost at the target: the most that was spent
        return False, points[-1].evaluations
    return True, at.evaluations


@experiment(
    id="vector.heuristic",
    section="8.1",
    title="Neighbour selection: heuristic vs simple",
    claim="""HNSW's neighbour-selection heuristic (keep a candidate only if it is nearer the new
    element than any neighbour already kept) makes search cheaper than linking the M nearest,
    most of all on clustered data.""",
    method="""Build HNSW with algorithm 4 (heuristic) and with algorithm 3 (simple) on a
    Gaussian mixture with 100 tight clusters and on uniform data of the same size and
    dimension; walk the ef ladder and interpolate the distance evaluations per query at the
    target recall@10 (if one never reaches it, the cost at the largest ef is a lower bound).""",
    judge=judge_heuristic,
    rule="""saving = simple's evaluations / the heuristic's at the target recall. Refuted if the
    clustered saving is below 1.1x (10%, above the spread across seeds); holds if it is at
    least 1.1x and at least the uniform saving (the paper: most on clustered data); nuanced if
    it pays off on clusters but more on uniform data.""",
    profiles={
        "quick": {
            "n": 4000,
            "dim": 8,
            "queries": 200,
            "m": 8,
            "ef_construction": 64,
            "target": 0.95,
        },
        "full": {
            "n": 100000,
            "dim": 8,
            "queries": 1000,
            "m": 8,
            "ef_construction": 100,
            "target": 0.95,
        },
    },
    references=[
        "Malkov & Yashunin (arXiv 1603.09320), on algorithm 4: the heuristic gives a large "
        "speed-up on clustered and low-dimensional data (docs/references.md §8.1).",
    ],
)
def heuristic(ctx: Context) -> Outcome[HeuristicEffect]:
    p = ctx.params
    target = float(p["target"])
    runs: list[SelectionRun] = []
    curves: dict[tuple[str, str], list[Point]] = {}
    with ctx.progress.task("heuristic vs simple", len(DATA) * len(SELECTIONS)) as task:
        for name in DATA:
            data = make_dataset(name, int(p["n"]), int(p["queries"]), ctx.seed, dim=int(p["dim"]))
            truth = ground_truth(data, 10)
            for selection in SELECTIONS:
                index, _ = build_archlab(data, int(p["m"]), int(p["ef_construction"]), ctx.seed,
                                         heuristic=selection == "heuristic")  # fmt: skip
                points = curve(index, data, truth, stop_at=max(target, 0.99))
                curves[(name, selection)] = points
                reached, spent = _cost(points, target)
                best = max(pt.recall for pt in points)
                runs.append(SelectionRun(name, selection, reached, round(spent, 1), round(best, 4)))
                task.advance()
    cost = {(r.data, r.selection): r.evaluations for r in runs}
    measured = HeuristicEffect(
        target_recall=target,
        runs=runs,
        saving_clustered=round(cost[("clustered", "simple")] / cost[("clustered", "heuristic")], 3),
        saving_uniform=round(cost[("uniform", "simple")] / cost[("uniform", "heuristic")], 3),
    )
    table = Table(
        f"Distance evaluations per query at recall@10 = {target:g}",
        [
            Column("data"),
            Column("selection"),
            Column("reached"),
            Column("evaluations"),
            Column("best recall@10"),
        ],
        note=f"n={p['n']}, d={p['dim']}, M={p['m']}, efConstruction={p['ef_construction']}; "
        "'reached' = no: the evaluations are those at the largest ef tried (a lower bound).",
    )
    for r in runs:
        table.add(r.data, r.selection, "yes" if r.reached else "no", r.evaluations, r.best_recall)
    figure = Figure(
        "Recall@10 vs distance evaluations per query",
        x_label="distance evaluations per query (log scale)",
        y_label="recall@10",
        log_x=True,
        series=[
            Series(f"{name}, {sel}", [pt.evaluations for pt in pts], [pt.recall for pt in pts])
            for (name, sel), pts in curves.items()
        ],
        caption="Points are ef values of the ladder; up and to the left is better.",
    )
    return Outcome(
        measured,
        summary=f"simple needs {measured.saving_clustered:.2f}x the heuristic's evaluations on "
        f"clustered data, {measured.saving_uniform:.2f}x on uniform",
        tables=[table],
        figures=[figure],
    )
