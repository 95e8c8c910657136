"""Sequential vs random writes (7.1): the writer and the judge."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from archlab.streaming import diskio
from archlab.streaming.measure_sequential_io import (
    JUDGED,
    LABEL,
    PARITY,
    PathPair,
    SequentialIOMeasurement,
    judge_sequential_io,
)


def test_sequential_writes_fill_the_file_in_order(tmp_path: Path) -> None:
    path = tmp_path / "log"
    run = diskio.measure_writes(
        path,
        pattern="sequential",
        mode="writeback",
        io_size=4096,
        ops=5,
        file_size=0,
        rng=random.Random(0),
        grow=True,
    )
    assert path.stat().st_size == 5 * 4096
    assert run.ops == 5 and run.mb_per_s > 0


def test_random_writes_stay_inside_the_prepared_file(tmp_path: Path) -> None:
    path = tmp_path / "data"
    diskio.prepare_target(path, 64 * 4096)
    before = path.read_bytes()
    diskio.measure_writes(
        path,
        pattern="random",
        mode="fsync_each",
        io_size=4096,
        ops=20,
        file_size=64 * 4096,
        rng=random.Random(1),
    )
    after = path.read_bytes()
    assert len(after) == len(before)
    changed = {
        i // 4096 for i in range(0, len(after), 4096) if after[i : i + 4096] != before[i : i + 4096]
    }
    assert 1 <= len(changed) <= 20


def test_misuse_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="multiple of 4096"):
        diskio.measure_writes(
            tmp_path / "x",
            pattern="sequential",
            mode="direct",
            io_size=100,
            ops=1,
            file_size=0,
            rng=random.Random(0),
            grow=True,
        )
    with pytest.raises(ValueError, match="only sequential"):
        diskio.measure_writes(
            tmp_path / "x",
            pattern="random",
            mode="writeback",
            io_size=4096,
            ops=1,
            file_size=4096,
            rng=random.Random(0),
            grow=True,
        )


def test_direct_io_is_reported_unsupported_where_the_probe_cannot_write(tmp_path: Path) -> None:
    assert diskio.direct_io_supported(tmp_path / "no" / "such" / "dir") is False


def test_filesystem_of_names_a_type(tmp_path: Path) -> None:
    assert diskio.filesystem_of(tmp_path) not in {"", "unknown"}


def measurement(**ranges: tuple[float, float, float]) -> SequentialIOMeasurement:
    """Paths with (median, lowest repeat, highest repeat) ratios; sizes as in the quick profile."""
    paths = {
        name: PathPair(
            io_kb=256 if name == "direct_large" else 4,
            sequential_mb_s=100.0 * median,
            random_mb_s=100.0,
            ratio=median,
            lowest=low,
            highest=high,
        )
        for name, (median, low, high) in ranges.items()
    }
    return SequentialIOMeasurement(
        "ext4", "direct" in paths, paths, 22.5 if "direct" in paths else None
    )


#: A quick run on this project's shared virtual disk (ext4, seed 0, load ~2.5): the durable
#: append log was 0.68x in its median repeat but 2.7x in another, and write-back reached 2x in
#: its best repeats only, so nothing held in every repeat and nothing was slower in every one.
MEASURED_NUANCED = {
    "page_cache": (1.444, 1.073, 2.672),
    "writeback": (1.931, 1.915, 2.734),
    "fsync_each": (3.4, 0.786, 3.4),
    "fsync_append": (0.678, 0.678, 2.741),
    "direct": (1.174, 0.909, 1.174),
    "direct_large": (1.338, 0.943, 1.36),
}
#: A quick run on the same disk (seed 3): fdatasync per append that grows the file ran at
#: 0.23x the random fdatasync writes in the median repeat and 0.96x in its best (issue 12 saw
#: about 0.35x): slower in every repeat.
REFUTED_FROM_RUN = {
    "page_cache": (0.712, 0.667, 3.75),
    "writeback": (2.215, 1.931, 4.703),
    "fsync_each": (0.723, 0.66, 1.275),
    "fsync_append": (0.228, 0.203, 0.964),
    "direct": (1.21, 1.066, 1.21),
    "direct_large": (2.837, 1.406, 3.105),
}


def test_every_path_much_faster_in_every_repeat_holds() -> None:
    fast = {n: (5.0, 3.0, 8.0) for n in ("page_cache", *JUDGED)}
    judgement = judge_sequential_io(measurement(**fast))
    assert judgement.verdict == "holds"
    assert all(e.met for e in judgement.evidence if e.threshold is not None)


def test_a_real_mixed_run_is_nuanced() -> None:
    judgement = judge_sequential_io(measurement(**MEASURED_NUANCED))
    assert judgement.verdict == "nuanced"
    assert "separate effect: 22.5x" in judgement.reason


def test_the_fsync_per_append_log_slower_in_every_repeat_is_refuted() -> None:
    judgement = judge_sequential_io(measurement(**REFUTED_FROM_RUN))
    assert judgement.verdict == "refuted"
    first = judgement.evidence[0]
    assert "appends growing the file" in first.name and first.met
    assert first.at_most == PARITY


def test_no_path_ever_much_faster_is_refuted() -> None:
    flat = {n: (1.1, 0.9, 1.3) for n in ("page_cache", *JUDGED)}
    assert judge_sequential_io(measurement(**flat)).verdict == "refuted"


def test_batching_alone_cannot_carry_the_verdict() -> None:
    """Before issue 12, 256 KiB appends against 4 KiB random writes stood in for 'sequential'."""
    flat = {n: (1.1, 0.9, 1.3) for n in ("page_cache", *JUDGED)}
    m = measurement(**flat)
    assert m.batching_gain == 22.5
    judgement = judge_sequential_io(m)
    assert judgement.verdict == "refuted"
    batching = [e for e in judgement.evidence if e.name.startswith("batching")]
    assert batching and batching[0].threshold is None


def test_the_judge_works_without_direct_io() -> None:
    buffered = {
        n: (3.0, 2.5, 3.5) for n in ("page_cache", "writeback", "fsync_each", "fsync_append")
    }
    assert judge_sequential_io(measurement(**buffered)).verdict == "holds"


def test_every_judged_path_is_cited() -> None:
    judgement = judge_sequential_io(measurement(**MEASURED_NUANCED))
    cited = " ".join(e.name for e in judgement.evidence)
    for name in JUDGED:
        assert LABEL[name] in cited
