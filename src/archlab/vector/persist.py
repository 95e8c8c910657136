"""One index, one file, memory-mapped on load (codex 8.1).

Layout: a 16-byte magic, an 8-byte little-endian header length, a JSON header (metric,
parameters, counters, the level generator's state and where each array lies), then every array
of :data:`archlab.vector.graph.ARRAYS` as raw little-endian bytes, each starting on a 64-byte
boundary. Only the rows in use are written.

Loading parses the header, checks that every array it names lies inside the file (a truncated
or foreign file is a one-line :class:`~archlab.errors.InputFormatError`), and maps each array
with ``numpy.memmap`` in copy-on-write mode: nothing is read until a search touches it, and an
insertion or deletion after loading changes memory, never the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from archlab.errors import InputFormatError
from archlab.vector.graph import ARRAYS, Graph

if TYPE_CHECKING:
    from archlab.vector.index import Engine, HNSWIndex

MAGIC = b"ARCHLAB-HNSW\x00v01"
FORMAT = 1
ALIGN = 64


def _align(offset: int) -> int:
    return -(-offset // ALIGN) * ALIGN


def _used(index: HNSWIndex) -> dict[str, np.ndarray]:
    g = index.graph
    out = {}
    for name in ARRAYS:
        array = g.arrays[name]
        used = g.rows if name in {"links_up", "count_up", "row_owner"} else g.size
        out[name] = np.ascontiguousarray(array[:used]).astype(array.dtype.newbyteorder("<"))
    return out


def save_index(index: HNSWIndex, path: Path) -> None:
    arrays = _used(index)
    g, p = index.graph, index.params
    layout: dict[str, dict[str, Any]] = {}
    header: dict[str, Any] = {
        "format": FORMAT,
        "metric": index.metric,
        "dim": g.dim,
        "m": p.m,
        "m_max": p.m_max,
        "m_max0": p.m_max0,
        "ef_construction": p.ef_construction,
        "heuristic": p.heuristic,
        "extend_candidates": p.extend_candidates,
        "keep_pruned": p.keep_pruned,
        "ml": index.ml,
        "seed": index.seed,
        "ef": index.ef,
        "size": g.size,
        "rows": g.rows,
        "entry": g.entry,
        "max_level": g.max_level,
        "rng": index.rng.bit_generator.state,
        "arrays": layout,
    }
    # Offsets depend on the header's length, which depends on the offsets: fix them with a
    # generous guess of the header size, then pad the real header up to it.
    reserve = _align(len(json.dumps(header)) + 120 * len(arrays) + 256)
    offset = len(MAGIC) + 8 + reserve
    for name, array in arrays.items():
        offset = _align(offset)
        layout[name] = {"offset": offset, "dtype": array.dtype.str, "shape": list(array.shape)}
        offset += array.nbytes
    text = json.dumps(header).encode()
    if len(text) > reserve:
        raise AssertionError("index header outgrew its reserved space")
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as out:
        out.write(MAGIC + len(text).to_bytes(8, "little") + text.ljust(reserve, b" "))
        for name, array in arrays.items():
            out.seek(layout[name]["offset"])
            out.write(array.tobytes())
        out.truncate(offset)
    os.replace(tmp, path)


def read_header(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            head = f.read(len(MAGIC) + 8)
            if len(head) < len(MAGIC) + 8 or head[: len(MAGIC)] != MAGIC:
                raise InputFormatError(path, "not an archlab HNSW index file (bad magic)")
            length = int.from_bytes(head[len(MAGIC) :], "little")
            text = f.read(length)
    except OSError as exc:
        raise InputFormatError(path, f"cannot read index: {exc.strerror}") from None
    if len(text) < length:
        raise InputFormatError(path, "truncated index file: the header is cut short")
    try:
        header: dict[str, Any] = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputFormatError(path, "index header is not valid JSON") from None
    if header.get("format") != FORMAT:
        raise InputFormatError(path, f"index format {header.get('format')!r}, expected {FORMAT}")
    return header


def load_index(path: Path, engine: Engine = "auto") -> HNSWIndex:
    from archlab.vector.index import HNSWIndex

    header = read_header(path)
    file_size = path.stat().st_size
    arrays: dict[str, np.ndarray] = {}
    try:
        for name in ARRAYS:
            spec = header["arrays"][name]
            dtype, shape = np.dtype(spec["dtype"]), tuple(int(s) for s in spec["shape"])
            end = int(spec["offset"]) + dtype.itemsize * int(np.prod(shape))
            if end > file_size:
                raise InputFormatError(
                    path,
                    f"truncated index file: array {name} ends at byte {end}, file has {file_size}",
                )
            if 0 in shape:
                arrays[name] = np.zeros(shape, dtype)
            else:
                mapped = np.memmap(path, dtype, "c", int(spec["offset"]), shape)
                arrays[name] = mapped.view(np.ndarray)
        index = HNSWIndex(
            int(header["dim"]),
            header["metric"],
            int(header["m"]),
            int(header["ef_construction"]),
            m_max=int(header["m_max"]),
            m_max0=int(header["m_max0"]),
            ml=float(header["ml"]),
            heuristic=bool(header["heuristic"]),
            extend_candidates=bool(header["extend_candidates"]),
            keep_pruned=bool(header["keep_pruned"]),
            seed=int(header["seed"]),
            engine=engine,
            capacity=1,
        )
        index.rng.bit_generator.state = header["rng"]
        index.ef = int(header["ef"])
        size, rows = int(header["size"]), int(header["rows"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputFormatError(path, f"index header is incomplete or invalid ({exc})") from None
    if len(arrays["vectors"]) != size or len(arrays["count_up"]) != rows:
        raise InputFormatError(path, "index header counts do not match its arrays")
    index.graph = Graph(
        index.dim,
        index.params.m_max,
        index.params.m_max0,
        size=size,
        rows=rows,
        entry=int(header["entry"]),
        max_level=int(header["max_level"]),
        arrays=arrays,
    )
    return index
