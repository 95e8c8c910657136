"""The 7.2 experiments on the log and tiered models: each judge reaches every verdict, and the
refuted cases come from real measurements of deliberately broken set-ups where one exists."""

from __future__ import annotations

from pathlib import Path
from random import Random

import pytest

from archlab.streaming.tiered.measure_replay import (
    ReplayMeasurement,
    judge_replay,
    measure_replay,
)
from archlab.streaming.tiered.measure_retention import (
    TieredRetentionMeasurement,
    judge_tiered_retention,
)
from archlab.streaming.tiered.measure_scaling import (
    StorageScalingMeasurement,
    judge_storage_scaling,
    kafka_style,
    pulsar_style,
)


def test_replay_measured_holds_and_retention_makes_it_nuanced(tmp_path: Path) -> None:
    full = measure_replay(tmp_path / "a", 1200, 10, Random(1))
    assert full.exchange_stored_after_ack == 0 and full.exchange_replayed == 0
    assert full.log_replayed == 1200 and full.seeks_exact == 10
    assert judge_replay(full).verdict == "holds"
    cut = measure_replay(tmp_path / "b", 1200, 10, Random(1), retain_ledgers=1)
    assert 0 < cut.log_replayed < 1200 and cut.seeks_exact == 10
    assert judge_replay(cut).verdict == "nuanced"


def test_replay_judge_refutes_an_exchange_that_kept_acked_messages() -> None:
    kept = ReplayMeasurement(1000, 1000, 1000, 1000, 1000, 10, 10, 1.0, 1.0)
    assert judge_replay(kept).verdict == "refuted"
    wrong_seek = ReplayMeasurement(1000, 0, 0, 1000, 1000, 10, 9, 0.0, 1.0)
    assert judge_replay(wrong_seek).verdict == "refuted"


def scaling(**changes: object) -> StorageScalingMeasurement:
    base = StorageScalingMeasurement(
        nodes=4,
        held_mb=12.0,
        kafka_moved_mb=11.4,
        kafka_moved_fraction=0.19,
        kafka_mb_before_first_write=1.6,
        kafka_copy_s_to_first_write=0.004,
        kafka_copy_s_to_balance=0.01,
        pulsar_moved_mb=0.0,
        pulsar_new_node_took_writes=True,
        pulsar_s_to_first_write=4.0,
        pulsar_new_node_share=0.17,
        pulsar_old_nodes_mb_freed=0.0,
    )
    fields = {**base.__dict__, **changes}
    return StorageScalingMeasurement(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        ({}, "holds"),
        ({"pulsar_s_to_first_write": 20000.0}, "nuanced"),  # idle topics: no rollover for hours
        ({"pulsar_moved_mb": 3.0}, "refuted"),  # a cluster that rebalanced to use the node
        ({"pulsar_new_node_took_writes": False, "pulsar_s_to_first_write": -1.0}, "refuted"),
    ],
)
def test_scaling_judge_reaches_each_verdict(changes: dict[str, object], verdict: str) -> None:
    assert judge_storage_scaling(scaling(**changes)).verdict == verdict


def test_scaling_measured_pulsar_moves_nothing_kafka_copies(tmp_path: Path) -> None:
    pulsar = pulsar_style(tmp_path, Random(2), 4, 6, 2048, 2.0, 0.5, 100, 120.0)
    assert pulsar.moved == 0 and pulsar.took_writes and pulsar.old_freed == 0
    kafka = kafka_style(tmp_path, 4, list(pulsar.topic_bytes.values()))
    assert kafka.moved > 0 and kafka.before_first_write > 0
    assert kafka.moved / kafka.held >= 0.1


def retention(**changes: object) -> TieredRetentionMeasurement:
    base = TieredRetentionMeasurement(
        retention_hours=[6.0, 24.0, 96.0],
        local_mb_without_offload=[0.15, 0.6, 2.4],
        local_mb_with_offload=[0.002, 0.002, 0.002],
        object_mb_with_offload=[0.07, 0.3, 1.2],
        retention_ratio=16.0,
        local_growth_with_offload=1.0,
        local_growth_without_offload=15.8,
        without_offload_proportionality=0.99,
        retained_readable=1.0,
        bookie_read_ms_p50=0.02,
        object_read_ms_p50=50.0,
        object_store="S3 (moto)",
    )
    return TieredRetentionMeasurement(**{**base.__dict__, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        ({}, "holds"),
        (
            {"local_growth_without_offload": 2.0, "without_offload_proportionality": 0.125},
            "nuanced",
        ),
        ({"local_growth_with_offload": 15.8}, "refuted"),  # offload that never ran
        ({"retained_readable": 0.9}, "refuted"),
    ],
)
def test_retention_judge_reaches_each_verdict(changes: dict[str, object], verdict: str) -> None:
    assert judge_tiered_retention(retention(**changes)).verdict == verdict


def test_a_log_that_deletes_what_was_consumed_is_measured_and_refuted(tmp_path: Path) -> None:
    deleted = measure_replay(tmp_path, 600, 5, Random(3), retain_ledgers=0)
    assert deleted.log_replayed == 0
    assert judge_replay(deleted).verdict == "refuted"


def test_an_offloader_that_never_runs_is_measured_and_refuted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archlab.streaming.tiered import measure_retention as mr
    from archlab.streaming.tiered.cluster import Broker
    from archlab.streaming.tiered.objectstore import LocalDirectoryStore

    monkeypatch.setattr(Broker, "offload", lambda self, topic: 0)
    local: dict[bool, list[float]] = {False: [], True: []}
    runs = {}
    for hours in (4.0, 16.0):
        for offload in (False, True):
            run = mr.run_retention(
                tmp_path / f"{hours}-{offload}",
                LocalDirectoryStore(tmp_path / f"o{hours}-{offload}"),
                Random(0),
                hours,
                20,
                offload,
                4,
                256,
            )
            local[offload].append(run.local / mr.MB)
            runs[offload] = run
    m = retention(
        retention_hours=[4.0, 16.0],
        local_mb_without_offload=local[False],
        local_mb_with_offload=local[True],
        object_mb_with_offload=[0.0, 0.0],
        retention_ratio=4.0,
        local_growth_with_offload=local[True][1] / local[True][0],
        local_growth_without_offload=local[False][1] / local[False][0],
        without_offload_proportionality=local[False][1] / local[False][0] / 4,
        retained_readable=mr.read_back(runs[True]),
    )
    assert m.local_growth_with_offload > 2
    assert judge_tiered_retention(m).verdict == "refuted"
