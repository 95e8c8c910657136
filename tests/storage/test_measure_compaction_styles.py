"""storage.compaction_styles: per-level rewrites are logged per job; the judge's verdicts."""

from __future__ import annotations

import pytest

from archlab.storage.faultfs import FaultFileSystem
from archlab.storage.lsm import LSMStore
from archlab.storage.measure_compaction_styles import (
    CompactionStyles,
    JobLog,
    StyleRun,
    Workload,
    judge_compaction,
)
from tests.storage.judges import cites_its_thresholds


def test_the_job_log_counts_bytes_moved_and_written_per_level() -> None:
    store = LSMStore(
        "/c", "none", fs=FaultFileSystem(), size_ratio=4, memtable_bytes=8 << 10,
        table_bytes=4 << 10, background=False,
    )  # fmt: skip
    log = JobLog(store.policy)
    store.policy = log
    for i in range(6000):
        store.put(b"%016d" % (i * 7919 % 6000), bytes(100))
    store.close()
    written_into = store.stats()["compaction_bytes_written"]
    assert sum(log.written.values()) == sum(written_into.values())
    rewrites = log.rewrites()
    assert "L0" in rewrites and "L1" in rewrites
    assert all(-1 < v <= 4 + 1 for v in rewrites.values())


def style(write_amp: float, runs: float, space: float, rewrites: float = 0.0) -> StyleRun:
    return StyleRun(
        levels=3,
        write_amp=write_amp,
        mean_sorted_runs=runs,
        tables_probed_per_get=1.0,
        space_amp_end=space,
        space_amp_peak=space,
        next_level_rewrites={"L0": 0.8, "L1": rewrites},
    )


def measurement(rewrites: float, leveled_better: bool = True) -> CompactionStyles:
    lev, tier = style(5.9, 4.2, 1.7, rewrites), style(3.6, 4.8, 2.1, -0.2)
    if not leveled_better:
        lev, tier = style(3.0, 6.0, 2.4, rewrites), style(5.0, 3.0, 1.4, -0.2)
    return CompactionStyles(size_ratio=4, uniform=Workload(lev, tier), skewed=Workload(lev, tier))


@pytest.mark.parametrize(
    ("m", "verdict"),
    [
        (measurement(3.0), "holds"),  # 0.75T per level
        # the quick profile as measured (seed 0): ordering right, 1.54 = 0.38T per level
        (measurement(1.54), "nuanced"),
        (measurement(6.0), "nuanced"),  # 1.5T: more than a full next level can cost
        (measurement(3.0, leveled_better=False), "refuted"),
    ],
)
def test_the_judge_reaches_each_verdict(m: CompactionStyles, verdict: str) -> None:
    judgement = judge_compaction(m)
    assert judgement.verdict == verdict
    assert cites_its_thresholds(judgement)


def test_rewrites_at_a_third_of_t_are_no_longer_accepted() -> None:
    judgement = judge_compaction(measurement(4 / 3))
    assert judgement.verdict == "nuanced" and "outside the rule of thumb" in judgement.reason
