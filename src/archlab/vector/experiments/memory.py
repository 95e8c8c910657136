"""``vector.memory_cost`` (codex 8.1): what the graph's links cost next to the vectors.

For each dimension and M the experiment builds an index and counts, per vector: the raw
float32 vector (4·d bytes), the link slots allocated on layer 0 (Mmax0 = 2M ids of 4 bytes, as
hnswlib allocates them), those on the upper layers (M ids per upper layer the element reaches)
and the ids actually in use. It sets them beside the paper's estimate (Mmax0 + mL·Mmax)·4 and,
where hnswlib is installed, beside hnswlib's own index file for the same data and M.
"""

from __future__ import annotations

import math
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
from archlab.vector.datasets import Dataset, make_dataset, minilm_available
from archlab.vector.sweeps import build_archlab, hnswlib_index

#: "Significant memory": we read it as the links adding at least a quarter to what the raw
#: vectors take. The codex gives no number; a smaller overhead would not shape a design.
SIGNIFICANT = Threshold(
    0.25, "x", "our reading of codex 8.1's 'significant': links add ≥ 1/4 of the raw vectors"
)
REFERENCE_M = 16


@dataclass(frozen=True)
class MemoryPoint:
    dim: int
    m: int
    raw_bytes: float  # per vector: 4·d
    layer0_bytes: float  # allocated link slots on layer 0, per vector
    upper_bytes: float  # allocated link slots on layers >= 1, per vector
    used_link_bytes: float  # link ids actually stored, per vector
    paper_link_bytes: float  # (Mmax0 + mL·Mmax)·4
    file_bytes: float  # archlab's index file, per vector
    hnswlib_file_bytes: float | None  # hnswlib's saved index, per vector (None: not installed)


@dataclass(frozen=True)
class MemoryCost:
    points: list[MemoryPoint]
    low_dim: int
    high_dim: int
    link_share_low_dim: float  # allocated links / raw vectors at M=16, lowest dimension
    link_share_high_dim: float  # the same at the highest dimension
    file_vs_hnswlib: float | None  # archlab file / hnswlib file at M=16, highest dimension


def judge_memory_cost(m: MemoryCost) -> Judgement:
    low = Evidence(f"links / vectors at d={m.low_dim}, M=16", m.link_share_low_dim, "x",
                   at_least=SIGNIFICANT)  # fmt: skip
    high = Evidence(f"links / vectors at d={m.high_dim}, M=16", m.link_share_high_dim, "x",
                    at_least=SIGNIFICANT)  # fmt: skip
    text = (
        f"at M=16 the links take {m.link_share_low_dim:.2f}x the raw vectors' memory at "
        f"d={m.low_dim} and {m.link_share_high_dim:.2f}x at d={m.high_dim}"
    )
    if m.file_vs_hnswlib is not None:
        text += f" (archlab's file is {m.file_vs_hnswlib:.2f}x hnswlib's for the same data)"
    if low.met and high.met:
        return holds(text + ": significant at every dimension measured", low, high)
    if not low.met and not high.met:
        return refuted(text + ": a small overhead at every dimension measured", low, high)
    return nuanced(
        text + ": significant next to small vectors, minor next to large embeddings", low, high
    )


def _data(ctx: Context, dim: int, n: int) -> Dataset:
    if dim == 384 and minilm_available():
        return make_dataset("minilm", n, 1, ctx.seed)
    return make_dataset("isotropic", n, 1, ctx.seed, dim=dim)


@experiment(
    id="vector.memory_cost",
    section="8.1",
    title="Memory of the graph links vs the vectors",
    claim="""HNSW consumes significant memory to store the graph connections, on top of the
    vectors themselves.""",
    method="""Build indexes for several M at a low dimension (isotropic Gaussian data) and at 384
    dimensions (the MiniLM table when installed, else isotropic data); count bytes per vector
    for the raw vectors, the link slots allocated on layer 0 and on the upper layers, the
    link ids in use and the saved file, next to the paper's (Mmax0 + mL·Mmax)·4 and hnswlib's
    saved index for the same data and M.""",
    judge=judge_memory_cost,
    rule="""With M=16, the allocated link bytes per vector divided by the raw vector bytes, at
    the lowest and the highest dimension: holds if both are ≥ 0.25 (our reading of
    'significant': a quarter on top of the vectors), refuted if both are below, nuanced if
    only one is.""",
    profiles={
        "quick": {"n": 2000, "dims": [32, 384], "ms": [8, 16, 32], "ef_construction": 40},
        "full": {
            "n": 20000,
            "dims": [32, 384],
            "ms": [4, 8, 16, 32, 48, 64],
            "ef_construction": 200,
        },
    },
    references=[
        "Malkov & Yashunin (arXiv 1603.09320): memory per element is about "
        "(Mmax0 + mL·Mmax)·4 bytes of links, 60–450 bytes for M between 6 and 48, excluding "
        "the data (docs/references.md §8.1).",
    ],
)
def memory_cost(ctx: Context) -> Outcome[MemoryCost]:
    p = ctx.params
    n, efc = int(p["n"]), int(p["ef_construction"])
    dims, ms = sorted(int(d) for d in p["dims"]), [int(x) for x in p["ms"]]
    if REFERENCE_M not in ms:
        ms.append(REFERENCE_M)
    points: list[MemoryPoint] = []
    names: dict[int, str] = {}
    with ctx.progress.task("builds per dimension and M", len(dims) * len(ms)) as task:
        for dim in dims:
            data = _data(ctx, dim, n)
            names[dim] = data.name
            for m in ms:
                index, _ = build_archlab(data, m, efc, ctx.seed)
                used = index.memory_bytes()
                path = ctx.scratch / f"archlab-{dim}-{m}.hnsw"
                index.save(path)
                peer = hnswlib_index(data, m, efc, ctx.seed)
                peer_bytes = None
                if peer is not None:
                    peer_path = ctx.scratch / f"hnswlib-{dim}-{m}.bin"
                    peer[0].save_index(str(peer_path))
                    peer_bytes = round(peer_path.stat().st_size / n, 1)
                pr = index.params
                points.append(
                    MemoryPoint(
                        dim=dim,
                        m=m,
                        raw_bytes=4.0 * dim,
                        layer0_bytes=used["layer0_allocated"] / n,
                        upper_bytes=round(used["upper_allocated"] / n, 2),
                        used_link_bytes=round((used["layer0_used"] + used["upper_used"]) / n, 2),
                        paper_link_bytes=round((pr.m_max0 + pr.m_max / math.log(m)) * 4, 1),
                        file_bytes=round(path.stat().st_size / n, 1),
                        hnswlib_file_bytes=peer_bytes,
                    )
                )
                task.advance()
    ref = {pt.dim: pt for pt in points if pt.m == REFERENCE_M}
    low, high = ref[dims[0]], ref[dims[-1]]

    def share(pt: MemoryPoint) -> float:
        return round((pt.layer0_bytes + pt.upper_bytes) / pt.raw_bytes, 3)

    measured = MemoryCost(
        points=points,
        low_dim=dims[0],
        high_dim=dims[-1],
        link_share_low_dim=share(low),
        link_share_high_dim=share(high),
        file_vs_hnswlib=None
        if high.hnswlib_file_bytes is None
        else round(high.file_bytes / high.hnswlib_file_bytes, 3),
    )
    table = Table(
        "Bytes per vector",
        [
            Column("data"),
            Column("d"),
            Column("M"),
            Column("raw vector", "B"),
            Column("layer-0 links", "B"),
            Column("upper-layer links", "B"),
            Column("link ids in use", "B"),
            Column("paper (Mmax0 + mL·Mmax)·4", "B"),
            Column("archlab file", "B"),
            Column("hnswlib file", "B"),
        ],
        note=f"{n} vectors, efConstruction={efc}. Upper-layer slots follow the level draw: an "
        "element reaches layer l with probability M^-l, so it owns Mmax/(M-1) upper slots on "
        "average, while the paper's estimate counts mL·Mmax = Mmax/ln M."
        + (
            ""
            if low.hnswlib_file_bytes is not None
            else " hnswlib is not installed: no file "
            "sizes to compare (pip install hnswlib, in the peers extra)."
        ),
    )
    for pt in points:
        table.add(names[pt.dim], pt.dim, pt.m, pt.raw_bytes, pt.layer0_bytes, pt.upper_bytes,
                  pt.used_link_bytes, pt.paper_link_bytes, pt.file_bytes,
                  pt.hnswlib_file_bytes)  # fmt: skip
    high_points = [pt for pt in points if pt.dim == dims[-1]]
    labels = [f"M={pt.m}" for pt in high_points]
    figure = Figure(
        f"Memory per vector at d={dims[-1]}",
        y_label="bytes per vector",
        series=[
            Series("raw vector", labels, [pt.raw_bytes for pt in high_points], style="bar"),
            Series(
                "links (allocated)",
                labels,
                [pt.layer0_bytes + pt.upper_bytes for pt in high_points],
                style="bar",
            ),
        ],
        caption="Links grow with M, vectors with d: the ratio decides how much the graph costs.",
    )
    return Outcome(
        measured,
        summary=f"links / vectors at M=16: {measured.link_share_low_dim:.2f}x at d={dims[0]}, "
        f"{measured.link_share_high_dim:.2f}x at d={dims[-1]}",
        tables=[table],
        figures=[figure],
    )
