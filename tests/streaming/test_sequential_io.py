"""Sequential vs random writes (7.1): the writer and the judge."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from archlab.streaming import diskio
from archlab.streaming.experiments import judge_sequential_io


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


BASE = {"ratio_page_cache": 1.0, "ratio_direct_batched": 10.0}


@pytest.mark.parametrize(
    ("ratios", "verdict"),
    [
        ({"ratio_writeback": 5.0, "ratio_fsync_each": 3.0, "ratio_direct": 2.5}, "holds"),
        ({"ratio_writeback": 2.2, "ratio_fsync_each": 1.1, "ratio_direct": 1.2}, "nuanced"),
        (
            {
                "ratio_writeback": 1.0,
                "ratio_fsync_each": 0.9,
                "ratio_direct": 1.1,
                "ratio_direct_batched": 1.1,
            },
            "refuted",
        ),
    ],
)
def test_the_judge_reaches_each_verdict(ratios: dict[str, float], verdict: str) -> None:
    assert judge_sequential_io({**BASE, **ratios}).verdict == verdict


def test_the_judge_works_without_direct_io() -> None:
    values = {"ratio_writeback": 3.0, "ratio_fsync_each": 2.5, "direct_io": False}
    assert judge_sequential_io(values).verdict == "holds"
