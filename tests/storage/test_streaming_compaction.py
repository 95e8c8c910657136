"""Compaction streams its merge: memory stays bounded however large the inputs, the result is
the same as merging everything in memory, and flushes go on while a compaction runs."""

from __future__ import annotations

import itertools
import threading
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from archlab.storage.faultfs import OsFileSystem
from archlab.storage.lsm.merge import merge_streaming
from archlab.storage.lsm.sstable import BlockCache, TableReader, TableWriter
from archlab.storage.lsm.store import LSMStore
from archlab.storage.lsm.version import Table, TableInfo

MiB = 1 << 20


def _table(fs: OsFileSystem, path: Path, file_no: int, entries: dict[bytes, bytes | None]) -> Table:
    handle = fs.open(str(path / f"{file_no}.sst"))
    writer = TableWriter(handle, 4096, 10.0)
    keys = sorted(entries)
    writer.add_many(keys, [entries[k] for k in keys])
    meta = writer.finish(file_no, file_no)
    handle.sync()
    info = TableInfo(
        file_no, 0, handle.size(), meta.min_key, meta.max_key, file_no, file_no,
        meta.entries, meta.tombstones,
    )  # fmt: skip
    return Table(info, TableReader(handle, file_no, BlockCache(0)))


def _runs(
    fs: OsFileSystem, path: Path, runs: list[list[dict[bytes, bytes | None]]]
) -> list[list[Table]]:
    file_no = 0
    out = []
    for run in runs:
        tables = []
        for entries in run:
            file_no += 1
            tables.append(_table(fs, path, file_no, entries))
        out.append(tables)
    return out


def _naive(
    runs: list[list[dict[bytes, bytes | None]]], drop: bool
) -> list[tuple[bytes, bytes | None]]:
    merged: dict[bytes, bytes | None] = {}
    for run in reversed(runs):
        for entries in run:
            merged.update(entries)
    return [(k, merged[k]) for k in sorted(merged) if not (drop and merged[k] is None)]


values = st.one_of(st.none(), st.binary(min_size=0, max_size=30))
keys = st.binary(min_size=1, max_size=6)


@st.composite
def runs_of_tables(draw: st.DrawFn) -> list[list[dict[bytes, bytes | None]]]:
    """Runs newest first; within a run, tables of disjoint, ascending key ranges."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        pool = sorted(draw(st.sets(keys, max_size=60)))
        cuts = sorted(draw(st.lists(st.integers(0, len(pool)), max_size=3)))
        bounds = [0, *cuts, len(pool)]
        run = []
        for lo, hi in itertools.pairwise(bounds):
            if hi > lo:
                run.append({k: draw(values) for k in pool[lo:hi]})
        out.append(run)
    return out


@settings(max_examples=60, deadline=None)
@given(runs=runs_of_tables(), drop=st.booleans(), blocks_per_read=st.integers(1, 3))
def test_the_streamed_merge_equals_merging_everything_in_memory(
    tmp_path_factory: object,
    runs: list[list[dict[bytes, bytes | None]]],
    drop: bool,
    blocks_per_read: int,
) -> None:
    path = Path(tmp_path_factory.mktemp("merge"))  # type: ignore[attr-defined]
    fs = OsFileSystem()
    tables = _runs(fs, path, runs)
    streamed = [
        pair
        for chunk_keys, chunk_values in merge_streaming(
            tables, drop, blocks_per_read=blocks_per_read
        )
        for pair in zip(chunk_keys, chunk_values, strict=True)
    ]
    assert streamed == _naive(runs, drop)


@pytest.mark.parametrize(
    ("blocks_per_read", "bounded"),
    [(4, True), (10**9, False)],
    ids=["streamed", "read-everything-first (the check must catch it)"],
)
def test_merging_inputs_eight_times_the_memory_cap_stays_under_it(
    tmp_path: Path, blocks_per_read: int, bounded: bool
) -> None:
    cap = 1 * MiB
    fs = OsFileSystem()
    value = b"v" * 100
    # three overlapping runs of 4 tables each, ~8 MiB of entries in all
    runs = [
        [
            {f"{t:02d}{i:06d}".encode(): value + bytes([r]) for i in range(r, 10_500, 1 + r)}
            for t in range(4)
        ]
        for r in range(3)
    ]
    tables = _runs(fs, tmp_path, runs)
    total = sum(t.size for run in tables for t in run)
    assert total >= 8 * cap
    tracemalloc.start()
    try:
        emitted = 0
        for chunk_keys, _ in merge_streaming(tables, False, blocks_per_read=blocks_per_read):
            emitted += len(chunk_keys)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert emitted == len(_naive(runs, False))
    assert (peak < cap) is bounded, f"peak {peak} bytes merging {total} bytes"


def test_a_store_compacts_inputs_larger_than_its_memory_cap(tmp_path: Path) -> None:
    """The merge's transient memory (the peak above what the store keeps afterwards: the new
    tables' indexes and Bloom filters, which any LSM keeps) stays under the cap."""
    cap = 1 * MiB
    small = {"memtable_bytes": 1 << 20, "table_bytes": 256 << 10, "background": False}
    with LSMStore(
        str(tmp_path), sync="none", l0_trigger=64, l0_slowdown=64, l0_stop=64, **small
    ) as db:
        for i in range(70_000):  # ~9 MiB of keys and values, flushed to L0 without compaction
            db.put(f"k{(i * 7919) % 70_000:08d}".encode(), b"x" * 120)
        db.wait_idle()
    l0_bytes = sum(t.size for t in db.version.tables())
    assert l0_bytes >= 8 * cap
    with LSMStore(str(tmp_path), sync="none", l0_trigger=4, **small) as db:
        tracemalloc.start()
        try:
            db.wait_idle()  # the L0 -> L1 merge of every table, inline in this thread
            kept, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert db.counters.compactions >= 1
        assert db.get(b"k00012345") == b"x" * 120
        assert all(t.info.level >= 1 for t in db.version.tables())
    assert peak - kept < cap, f"peak {peak} bytes ({kept} kept) compacting {l0_bytes} bytes"


def test_flushes_continue_while_a_compaction_runs(tmp_path: Path, monkeypatch: object) -> None:
    from archlab.storage.lsm import worker

    in_compaction = threading.Event()
    release = threading.Event()
    real = worker.merge_streaming

    def slow_merge(*args: object, **kwargs: object) -> object:
        in_compaction.set()
        release.wait(10)
        yield from real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(worker, "merge_streaming", slow_merge)  # type: ignore[attr-defined]
    db = LSMStore(
        str(tmp_path), sync="none", memtable_bytes=64 << 10, table_bytes=64 << 10,
        l0_trigger=2, l0_slowdown=20, l0_stop=24,
    )  # fmt: skip
    try:
        i = 0
        while not in_compaction.is_set() and i < 20_000:
            db.put(f"a{i:08d}".encode(), b"y" * 100)
            i += 1
        assert in_compaction.wait(10), "no compaction started"
        flushes = db.counters.flushes
        for j in range(3_000):  # ~330 KiB: several memtables while the merge is held
            db.put(f"b{j:08d}".encode(), b"z" * 100)
        deadline = threading.Event()
        for _ in range(100):
            if db.counters.flushes > flushes:
                break
            deadline.wait(0.05)
        assert db.counters.flushes > flushes, "no flush while the compaction was running"
    finally:
        release.set()
        db.wait_idle()
        db.close()
