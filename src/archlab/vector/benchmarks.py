"""``archlab bench vector``: HNSW build time, memory and QPS at recall ≥ 0.95 vs hnswlib, FAISS.

All three build the same HNSW (M=16, efConstruction=200) on the MiniLM token-embedding table
(cosine; held-out queries), single-threaded. Builds alternate between the systems for several
rounds (:func:`~archlab.lab.bench.interleaved`); each system then searches at the least ef of a
ladder that gives it recall@10 ≥ 0.95 on these queries, again alternating for several rounds.
Medians are compared, and every ratio carries the range of its per-round values: a goal that
falls inside that range is reported as not established.

hnswlib is built from source by pip; with ``HNSWLIB_NO_NATIVE=1`` it compiles without
``-march=native`` (SSE but no AVX), which is how the peers extra installs it portably.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archlab.lab import BenchContext, BenchReport, Column, Ratio, benchmark
from archlab.lab.bench import interleaved, median
from archlab.vector.datasets import Dataset, ground_truth, make_dataset, minilm_available, recall
from archlab.vector.index import HNSWIndex
from archlab.vector.sweeps import EF_LADDER, Search, faiss_index, hnswlib_index

M, EF_CONSTRUCTION, TARGET, K = 16, 200, 0.95, 10
QPS_GOAL, BUILD_GOAL = 0.5, 3.0
#: (base vectors, queries, rounds) for --quick and the full run.
QUICK = (10_000, 200, 3)
FULL = (29_000, 500, 3)

TRIAL_S = 1.0  # seconds of searching per QPS trial, so one trial outlasts scheduler noise
Built = tuple[Any, Search, float]  # (index object, search function, build seconds)


def _archlab(data: Dataset, seed: int) -> Built:
    index = HNSWIndex(data.base.shape[1], data.metric, M, EF_CONSTRUCTION, seed=seed)
    started = time.perf_counter()
    index.add(data.base)
    seconds = time.perf_counter() - started
    return index, lambda q, k, ef: index.search(q, k, ef=ef).ids, seconds


def _builders(data: Dataset, seed: int) -> dict[str, Callable[[], Built | None]]:
    return {
        "archlab": lambda: _archlab(data, seed),
        "hnswlib": lambda: hnswlib_index(data, M, EF_CONSTRUCTION, seed),
        "faiss": lambda: faiss_index(data, M, EF_CONSTRUCTION),
    }


def _memory_bytes(system: str, index: Any, scratch: Path) -> int:
    if system == "archlab":
        return sum(v for k, v in index.memory_bytes().items() if not k.endswith("_used"))
    path = scratch / f"{system}.index"
    if system == "hnswlib":
        index.save_index(str(path))
    else:
        import faiss

        faiss.write_index(index, str(path))
    return path.stat().st_size


def _least_ef(search: Search, data: Dataset, truth: Any) -> tuple[int, float]:
    search(data.queries[:1], K, EF_LADDER[0])
    for ef in EF_LADDER:
        found = recall(search(data.queries, K, ef), truth)
        if found >= TARGET:
            return ef, found
    return EF_LADDER[-1], found


def _spread(values: list[float]) -> float:
    return 100 * (max(values) - min(values)) / statistics.median(values)


@benchmark(
    name="vector",
    title="Vector search: HNSW vs hnswlib and FAISS (codex 8.1)",
    description="""Build time, memory and single-thread queries per second at recall@10 ≥ 0.95
    on the MiniLM token-embedding table (cosine, M=16, efConstruction=200), archlab vs hnswlib
    and FAISS IndexHNSWFlat, interleaved rounds, medians and spread.""",
)
def bench_vector(ctx: BenchContext) -> BenchReport:
    n, n_queries, rounds = QUICK if ctx.quick else FULL
    notes = []
    name = "minilm"
    if not minilm_available():
        name = "clustered"
        notes.append("MiniLM is not installed: a 384-d Gaussian mixture stands in for it.")
    data = make_dataset(name, n, n_queries, ctx.seed, dim=384)
    truth = ground_truth(data, K)
    report = BenchReport(
        columns=[
            Column("system"),
            Column("build", "s"),
            Column("build spread", "%"),
            Column("memory", "MiB"),
            Column("ef"),
            Column("recall@10"),
            Column("queries/s"),
            Column("QPS spread", "%"),
        ],
        rows=[],
    )
    built: dict[str, Built] = {}
    trials: dict[str, Callable[[], float]] = {}
    for system, build in _builders(data, ctx.seed).items():
        if build() is None:
            report.missing_peers.append(system)
            continue

        def trial(system: str = system, build: Callable[[], Built | None] = build) -> float:
            result = build()
            assert result is not None
            built[system] = result
            return result[2]

        trials[system] = trial
    build_s = interleaved(trials, rounds, ctx.progress, "builds")
    chosen = {system: _least_ef(b[1], data, truth) for system, b in built.items()}

    def searcher(system: str) -> Callable[[], float]:
        search, ef = built[system][1], chosen[system][0]

        def trial() -> float:  # whole passes over the queries for at least TRIAL_S seconds
            started, passes = time.perf_counter(), 0
            while passes == 0 or time.perf_counter() - started < TRIAL_S:
                search(data.queries, K, ef)
                passes += 1
            return passes * len(data.queries) / (time.perf_counter() - started)

        return trial

    qps = interleaved({s: searcher(s) for s in built}, max(rounds, 5), ctx.progress, "queries")
    for system, (index, _, _) in built.items():
        report.rows.append(
            {
                "system": system,
                "build": round(median(build_s[system]), 2),
                "build spread": round(_spread(build_s[system]), 1),
                "memory": round(_memory_bytes(system, index, ctx.scratch) / 2**20, 1),
                "ef": chosen[system][0],
                "recall@10": round(chosen[system][1], 4),
                "queries/s": round(median(qps[system])),
                "QPS spread": round(_spread(qps[system]), 1),
            }
        )
    for peer in ("hnswlib", "faiss"):
        if peer not in built:
            continue
        per_round_qps = [a / p for a, p in zip(qps["archlab"], qps[peer], strict=True)]
        per_round_build = [a / p for a, p in zip(build_s["archlab"], build_s[peer], strict=True)]
        qps_ratio = median(qps["archlab"]) / median(qps[peer])
        build_ratio = median(build_s["archlab"]) / median(build_s[peer])
        goal_qps = QPS_GOAL if peer == "hnswlib" else None
        goal_build = BUILD_GOAL if peer == "hnswlib" else None
        report.ratios.append(Ratio(f"QPS at recall ≥ 0.95, archlab / {peer}", qps_ratio, goal_qps))
        report.ratios.append(
            Ratio(f"build time, archlab / {peer}", build_ratio, goal_build, higher_is_better=False)
        )
        for label, values, goal in (
            ("QPS", per_round_qps, goal_qps),
            ("build time", per_round_build, goal_build),
        ):
            low, high = min(values), max(values)
            established = goal is None or not low <= goal <= high
            notes.append(
                f"{label} archlab / {peer} per round: {low:.2f}x – {high:.2f}x"
                + ("" if established else f" (the goal {goal:g}x lies inside: not established)")
            )
    notes.insert(
        0,
        f"{data.name}: {len(data.base)} vectors × {data.base.shape[1]}, {len(data.queries)} "
        f"held-out queries, k={K}, single thread; {rounds} build rounds and {max(rounds, 5)} "
        "query rounds, interleaved; each system searches at its own least ef reaching "
        "recall 0.95. Memory: archlab's arrays in use (vectors, allocated link slots, "
        "bookkeeping), the peers' saved index files.",
    )
    report.notes = notes
    return report
