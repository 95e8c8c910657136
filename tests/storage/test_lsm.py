"""LSM-specific behaviour: read path statistics, compaction shapes, stalls, file lifecycle."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from archlab.storage.faultfs import FaultFileSystem
from archlab.storage.lsm import LSMStore
from archlab.storage.lsm.compaction import Leveled
from archlab.storage.records import read_records

SMALL = {"memtable_bytes": 16 << 10, "table_bytes": 8 << 10, "background": False}


def fill(store: LSMStore, n: int, keyspace: int, seed: int = 0) -> dict[bytes, bytes]:
    import random

    rng = random.Random(seed)
    model = {}
    for i in range(n):
        key = b"%08d" % rng.randrange(keyspace)
        value = b"v%d" % i + bytes(40)
        store.put(key, value)
        model[key] = value
    return model


def test_leveled_levels_do_not_overlap_and_respect_their_targets() -> None:
    store = LSMStore("/db", "none", fs=FaultFileSystem(), size_ratio=4, **SMALL)
    model = fill(store, 12000, 5000)
    version = store.version
    policy = store.policy
    assert isinstance(policy, Leveled)
    levels = sorted({r.level for r in version.runs})
    assert max(levels) >= 2, f"expected several levels, got {levels}"
    for run in version.runs:
        if run.level >= 1:
            tables = run.tables
            for a, b in itertools.pairwise(tables):
                assert a.info.max_key < b.info.min_key, f"L{run.level} tables overlap"
            if run.level < max(levels):
                assert run.size <= policy.target(run.level) * 1.5
    assert len(version.level_runs(0)) < policy.l0_trigger
    assert dict(store.scan()) == model
    per_level = store.stats()["compaction_bytes_written"]
    assert set(per_level) >= {"L1", "L2"}


def test_tiered_keeps_fewer_rewrites_and_more_runs_than_leveled() -> None:
    stats = {}
    for style in ("leveled", "tiered"):
        store = LSMStore("/db", "none", fs=FaultFileSystem(), compaction=style, **SMALL)
        fill(store, 15000, 3000)
        stats[style] = store.stats()
    assert stats["tiered"]["write_amplification"] < stats["leveled"]["write_amplification"]
    assert stats["tiered"]["sorted_runs"] >= stats["leveled"]["sorted_runs"]


def test_bloom_filters_skip_tables_and_count_false_positives() -> None:
    with_filter = LSMStore("/db", "none", fs=FaultFileSystem(), bloom_bits_per_key=10, **SMALL)
    without = LSMStore("/db", "none", fs=FaultFileSystem(), bloom_bits_per_key=0, **SMALL)
    for store in (with_filter, without):
        for i in range(3000):
            store.put(b"present-%06d" % i, bytes(50))
        store.flush()
        for i in range(2000):
            assert store.get(b"present-%06d-absent" % i) is None
    s1, s0 = with_filter.stats(), without.stats()
    assert s0["bloom_negatives"] == 0 and s0["tables_probed"] > 0
    assert s1["bloom_negatives"] > 0
    assert s1["tables_probed"] < s0["tables_probed"] / 10
    assert s1["bloom_false_positives"] == s1["tables_probed"]  # every probe of an absent key


def test_deletes_hide_older_values_and_tombstones_vanish_at_the_bottom() -> None:
    store = LSMStore("/db", "none", fs=FaultFileSystem(), **SMALL)
    for i in range(2000):
        store.put(b"%06d" % i, bytes(60))
    store.flush()
    for i in range(0, 2000, 2):
        store.delete(b"%06d" % i)
    store.flush()
    assert store.get(b"%06d" % 2) is None and store.get(b"%06d" % 3) == bytes(60)
    assert [k for k, _ in store.scan(b"000000", b"000010")] == [
        b"%06d" % i for i in (1, 3, 5, 7, 9)
    ]
    for _ in range(6):  # push everything to the bottom level
        store.flush()
        for i in range(2000, 2400):
            store.put(b"%06d" % i, bytes(60))
    store.wait_idle()
    bottom = store.version.runs[-1]
    assert bottom.level >= 1
    assert len(list(store.scan())) == 1000 + 400


def test_obsolete_files_are_deleted_and_reopen_finds_everything(tmp_path: Path) -> None:
    store = LSMStore(str(tmp_path), "batch", **SMALL)
    model = fill(store, 8000, 2000)
    live = {f"{t.file_no:06d}.sst" for t in store.version.tables()}
    store.close()
    on_disk = {f for f in os.listdir(tmp_path) if f.endswith(".sst")}
    assert on_disk == live
    assert len([f for f in os.listdir(tmp_path) if f.endswith(".log")]) == 1
    with LSMStore(str(tmp_path), "batch", **SMALL) as reopened:
        assert dict(reopened.scan()) == model


def test_manifest_is_rewritten_when_long() -> None:
    fs = FaultFileSystem()
    options = {**SMALL, "memtable_bytes": 2048, "table_bytes": 1024, "manifest_bytes": 4096}
    store = LSMStore("/db", "none", fs=fs, **options)
    model = fill(store, 6000, 3000)
    records = len(read_records(fs.read_file("/db/MANIFEST"), "MANIFEST").payloads)
    edits = store.counters.flushes + store.counters.compactions
    store.close()
    assert edits > 100 and records < edits / 4
    fs.crash()
    with LSMStore("/db", "none", fs=fs, **options) as reopened:
        assert dict(reopened.scan()) == model


def test_write_stalls_are_counted_when_compaction_falls_behind(tmp_path: Path) -> None:
    store = LSMStore(
        str(tmp_path),
        "none",
        memtable_bytes=8 << 10,
        table_bytes=64 << 10,
        l0_trigger=2,
        l0_slowdown=3,
        l0_stop=4,
        delayed_write_rate=1 << 20,
        background=True,
    )
    fill(store, 20000, 10**9)
    stats = store.stats()
    store.close()
    assert stats["stall_events"] > 0
    assert stats["stall_seconds"] > 0
    assert stats["stall_events"] == stats["slowdown_events"] + stats["stop_events"]


@pytest.mark.parametrize("policy", ["always", "batch"])
def test_group_commit_syncs_less_than_once_per_write_under_batch(policy: str) -> None:
    fs = FaultFileSystem()
    store = LSMStore("/db", policy, fs=fs, group_bytes=4096, **SMALL)  # type: ignore[arg-type]
    before = fs.stats.syncs
    for i in range(500):
        store.put(b"%06d" % i, bytes(20))
    syncs = fs.stats.syncs - before
    if policy == "always":
        assert syncs >= 500
    else:
        assert 1 <= syncs <= 500 * 40 // 4096 + 5
