"""The partition log (7.1): segments, sparse indexes, recovery, retention, compaction."""

from __future__ import annotations

import os
from pathlib import Path

from archlab.streaming.log.partition import LogConfig, PartitionLog
from archlab.streaming.log.records import make_batch


def _fill(log: PartitionLog, n: int, start_ts: int = 0) -> None:
    for i in range(n):
        log.append(
            make_batch(
                [b"v%03d" % i] * 2, keys=[b"k%d" % (i % 4)] * 2, timestamp=start_ts + i
            ).encode(),
            start_ts + i,
        )


def test_segments_are_named_by_base_offset_and_rolled_by_size(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=400, index_interval_bytes=100))
    _fill(log, 40)
    names = sorted(p.name for p in tmp_path.glob("*.log"))
    assert len(names) == len(log.segments) > 3
    assert names[0] == "00000000000000000000.log"
    assert [int(n[:20]) for n in names] == [s.base_offset for s in log.segments]
    assert all(s.size <= 400 for s in log.segments)


def test_rolled_by_time(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(segment_ms=10))
    _fill(log, 25)
    assert len(log.segments) == 3


def test_every_offset_is_found_through_the_sparse_index(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=2000, index_interval_bytes=150))
    _fill(log, 60)
    seg = log.segments[0]
    assert 1 < len(seg.index) < len(seg.batches())  # sparse, not one entry per batch
    for offset in range(log.log_end_offset):
        batch = log.batches(offset)[0]
        assert batch.base_offset <= offset <= batch.last_offset
    assert log.offset_for_timestamp(30) == 60
    assert log.read(log.log_end_offset, 100) is None


def test_indexes_survive_a_clean_restart_and_are_rebuilt_when_lost(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=600, index_interval_bytes=100))
    _fill(log, 30)
    sealed = log.segments[0]
    expected = list(sealed.index)
    sealed.index_path.unlink()
    again = PartitionLog(tmp_path, LogConfig(segment_bytes=600, index_interval_bytes=100))
    assert again.segments[0].index == expected
    assert again.log_end_offset == 60 and again.recoveries == []


def test_a_damaged_tail_is_cut_to_the_last_valid_batch_and_reported(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path)
    _fill(log, 5)
    path = log.segments[-1].path
    size = path.stat().st_size
    with path.open("ab") as f:
        f.write(make_batch([b"torn"]).encode()[:-3])  # a write cut short by a crash
    again = PartitionLog(tmp_path)
    assert again.log_end_offset == 10
    assert again.recoveries and again.recoveries[0].truncated_bytes > 0
    assert path.stat().st_size == size
    # a flipped bit inside the last stored batch: cut at that batch
    with path.open("r+b") as f:
        f.seek(size - 2)
        byte = f.read(1)
        f.seek(size - 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    third = PartitionLog(tmp_path)
    assert third.log_end_offset == 8
    assert "CRC" in third.recoveries[0].reason


def test_retention_by_size_and_time(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=300, retention_bytes=900, retention_ms=-1))
    _fill(log, 40)
    deleted = log.enforce_retention(now_ms=40)
    assert deleted and log.size_bytes <= 900 + 300
    assert log.log_start_offset > 0 and not (tmp_path / deleted[0]).exists()
    timed = PartitionLog(tmp_path / "t", LogConfig(segment_bytes=300, retention_ms=10))
    _fill(timed, 40)
    timed.enforce_retention(now_ms=45)
    assert all(s.max_timestamp >= 35 for s in timed.segments[:-1])


def test_compaction_keeps_the_latest_value_per_key(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=300, compact=True))
    _fill(log, 40)
    end = log.log_end_offset
    dropped = log.compact(now_ms=50)
    assert dropped > 0 and log.log_end_offset == end
    seen: dict[bytes, bytes] = {}
    for batch in log.batches():
        for r in batch.records:
            assert r.key is not None and r.value is not None
            seen[r.key] = r.value
    assert seen == {b"k0": b"v036", b"k1": b"v037", b"k2": b"v038", b"k3": b"v039"}
    assert os.path.exists(log.segments[0].index_path)
    assert PartitionLog(tmp_path, LogConfig(segment_bytes=300)).log_end_offset == end
