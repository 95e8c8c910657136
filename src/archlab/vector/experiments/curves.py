"""``vector.recall_vs_ef`` (codex 8.1): the recall–speed trade-off, against hnswlib and FAISS.

The three HNSW implementations are built on the same data with the same M and efConstruction
and searched with the same ef ladder, single-threaded; brute force over the same data gives
the exact answer and the speed to beat. ef is the knob: more candidates, more recall, fewer
queries per second. Recall and QPS per ef are the curve; the verdict reads archlab's distance
evaluations at the target recall as a fraction of N, the cost of the exact scan.
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
from archlab.vector.datasets import Dataset, ground_truth, make_dataset, minilm_available
from archlab.vector.sweeps import (
    Point,
    brute_force_qps,
    build_archlab,
    faiss_index,
    hnswlib_index,
    interpolate,
    measure,
    measure_peer,
)

#: An approximate index earns its place by doing at least ten times less work than the exact
#: O(N) scan it replaces (codex 8.1: brute force is "too slow"); one order of magnitude.
TENTH_OF_SCAN = Threshold(
    0.1, "", "one order of magnitude below the exact scan's N evaluations (codex 8.1: O(N))"
)
REACHED = Threshold(1.0, "", "the target recall must be reached for a cost to exist")


@dataclass(frozen=True)
class CurvePoint:
    system: str
    ef: int
    recall: float
    qps: float
    evaluations: float  # per query, archlab only (0 for peers)


@dataclass(frozen=True)
class RecallVsEf:
    data: str
    n: int
    target_recall: float
    points: list[CurvePoint]
    brute_force_qps: float
    reached: float  # 1.0 if archlab reached the target recall on the ladder, else 0.0
    evaluations_fraction: float  # archlab's evaluations per query at the target / N
    archlab_qps_at_target: float | None
    hnswlib_qps_at_target: float | None
    faiss_qps_at_target: float | None
    recall_gap_to_hnswlib: float | None  # largest |archlab - hnswlib| recall at the same ef


def judge_recall_vs_ef(m: RecallVsEf) -> Judgement:
    reached = Evidence("archlab reached the target recall", m.reached, at_least=REACHED)
    if not reached.met:
        return refuted(
            f"archlab's HNSW never reached recall@10 {m.target_recall:g} on the ef ladder", reached
        )
    work = Evidence("distance evaluations / N at the target", m.evaluations_fraction,
                    at_most=TENTH_OF_SCAN)  # fmt: skip
    text = (
        f"at recall@10 {m.target_recall:g} archlab's HNSW evaluates "
        f"{100 * m.evaluations_fraction:.1f}% of the {m.n} vectors per query"
    )
    if m.archlab_qps_at_target is not None:
        text += (
            f", {m.archlab_qps_at_target:.0f} queries/s vs brute force's {m.brute_force_qps:.0f}"
        )
    if m.hnswlib_qps_at_target is not None:
        text += f" and hnswlib's {m.hnswlib_qps_at_target:.0f}"
    if work.met:
        return holds(text + ": high recall at a small fraction of the exact scan", work)
    return nuanced(text + ": high recall, but the saving over the scan is under 10x here", work)


@experiment(
    id="vector.recall_vs_ef",
    section="8.1",
    title="Recall vs speed over ef: archlab, hnswlib, FAISS",
    claim="""HNSW is the standard approximate nearest-neighbour index: it answers with high
    recall while doing a small fraction of the exact O(N) scan's work, trading recall for
    speed through its search breadth ef.""",
    method="""The MiniLM token-embedding table (cosine; a Gaussian mixture stands in when the
    optional package is missing) with held-out queries; archlab, hnswlib and FAISS
    IndexHNSWFlat built with the same M and efConstruction and searched single-threaded over
    an ef ladder; recall@10 against brute force, queries per second, and archlab's distance
    evaluations, interpolated at the target recall.""",
    judge=judge_recall_vs_ef,
    rule="""refuted if archlab never reaches the target recall@10 on the ladder; otherwise
    holds if its distance evaluations per query at the target are at most 0.1·N (ten times
    less work than the exact scan, one order of magnitude) and nuanced if more.""",
    profiles={
        "quick": {
            "data": "minilm",
            "n": 5000,
            "queries": 200,
            "m": 16,
            "ef_construction": 200,
            "efs": [10, 16, 24, 32, 48, 64, 96, 128, 256],
            "target": 0.95,
        },
        "full": {
            "data": "minilm",
            "n": 29000,
            "queries": 500,
            "m": 16,
            "ef_construction": 200,
            "efs": [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512],
            "target": 0.95,
        },
    },
    references=[
        "Malkov & Yashunin (arXiv 1603.09320): ef trades recall for speed at search time "
        "(docs/references.md §8.1).",
    ],
)
def recall_vs_ef(ctx: Context) -> Outcome[RecallVsEf]:
    p = ctx.params
    target, k = float(p["target"]), 10
    m, efc, n = int(p["m"]), int(p["ef_construction"]), int(p["n"])
    name = str(p["data"])
    note = ""
    if name == "minilm" and not minilm_available():
        name, note = "clustered", "MiniLM not installed: a 64-d Gaussian mixture stands in. "
    data: Dataset = make_dataset(name, n, int(p["queries"]), ctx.seed, dim=64)
    truth = ground_truth(data, k)
    efs = [int(e) for e in p["efs"]]
    curves: dict[str, list[Point]] = {}
    missing: list[str] = []
    with ctx.progress.task("build and sweep ef", 3) as task:
        index, _ = build_archlab(data, m, efc, ctx.seed)
        curves["archlab"] = [measure(index, data, truth, ef) for ef in efs]
        task.advance()
        for peer, built in (
            ("hnswlib", hnswlib_index(data, m, efc, ctx.seed)),
            ("faiss", faiss_index(data, m, efc)),
        ):
            if built is None:
                missing.append(peer)
            else:
                curves[peer] = [measure_peer(built[1], data, truth, ef) for ef in efs]
            task.advance()
    brute = brute_force_qps(data, k)
    at = {system: interpolate(points, target) for system, points in curves.items()}
    ours = at["archlab"]
    gap = None
    if "hnswlib" in curves:
        pairs = zip(curves["archlab"], curves["hnswlib"], strict=True)
        gap = round(max(abs(a.recall - b.recall) for a, b in pairs), 4)

    def qps(system: str) -> float | None:
        found = at.get(system)
        return None if found is None else round(found.qps, 1)

    measured = RecallVsEf(
        data=data.name,
        n=n,
        target_recall=target,
        points=[
            CurvePoint(
                system, pt.ef, round(pt.recall, 4), round(pt.qps, 1), round(pt.evaluations, 1)
            )
            for system, points in curves.items()
            for pt in points
        ],
        brute_force_qps=round(brute, 1),
        reached=1.0 if ours is not None else 0.0,
        evaluations_fraction=1.0 if ours is None else round(ours.evaluations / n, 4),
        archlab_qps_at_target=qps("archlab"),
        hnswlib_qps_at_target=qps("hnswlib"),
        faiss_qps_at_target=qps("faiss"),
        recall_gap_to_hnswlib=gap,
    )
    table = Table(
        "Recall@10 and queries per second by ef (single thread)",
        [Column("system"), Column("ef"), Column("recall@10"), Column("queries/s"),
         Column("distance evals/query")],
        note=note + f"{data.name}, n={n}, {data.metric}, M={m}, efConstruction={efc}; brute "
        f"force {brute:.0f} queries/s."
        + (f" Not installed (not measured): {', '.join(missing)}." if missing else ""),
    )  # fmt: skip
    for pt in measured.points:
        table.add(pt.system, pt.ef, pt.recall, pt.qps, pt.evaluations or None)
    figure = Figure(
        "Recall@10 vs queries per second",
        x_label="recall@10",
        y_label="queries per second (log scale)",
        log_y=True,
        series=[
            Series(system, [pt.recall for pt in points], [pt.qps for pt in points])
            for system, points in curves.items()
        ]
        + [Series("brute force", [1.0], [brute], style="scatter")],
        caption="Each point is one ef of the ladder; up and to the right is better.",
    )
    return Outcome(
        measured,
        summary=f"recall {target:g} at {100 * measured.evaluations_fraction:.1f}% of N; "
        f"archlab {measured.archlab_qps_at_target} q/s, hnswlib {measured.hnswlib_qps_at_target}, "
        f"faiss {measured.faiss_qps_at_target}",
        tables=[table],
        figures=[figure],
    )
