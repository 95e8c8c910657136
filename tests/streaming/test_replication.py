"""Replication (7.1) under the simulator's nemesis: acks=all loses nothing, replicas agree."""

from __future__ import annotations

from archlab.sim.disk import Disk
from archlab.streaming.replication import Entry, ReplicationConfig, encode_entry, read_log
from archlab.streaming.replication_check import run_replication

SEEDS = range(6)


def test_acks_all_loses_no_acknowledged_record_and_replicas_agree() -> None:
    runs = [
        run_replication(s, ReplicationConfig(), "crash,partition,loss,reorder", ops=120)
        for s in SEEDS
    ]
    assert all(r.lost == 0 and r.diverged_replicas == 0 for r in runs), runs
    assert sum(r.elections for r in runs) > 0, "the nemesis must force leader changes"
    assert sum(r.acked for r in runs) > 100
    assert sum(r.refused for r in runs) > 0, (
        "min.insync.replicas refuses writes when the ISR shrinks"
    )


def test_acks_1_can_lose_acknowledged_records_on_failover() -> None:
    runs = [
        run_replication(s, ReplicationConfig(acks="1"), "crash,partition", ops=120)
        for s in range(10)
    ]
    assert sum(r.lost for r in runs) > 0
    assert all(r.diverged_replicas == 0 for r in runs)


def test_a_follower_that_acks_before_appending_is_caught() -> None:
    runs = [
        run_replication(s, ReplicationConfig(variant="broken"), "crash,partition", ops=150)
        for s in SEEDS
    ]
    assert any(r.lost > 0 for r in runs), runs


def test_the_replica_log_is_record_batches_and_a_torn_tail_is_dropped() -> None:
    disk = Disk()
    entries = [Entry(i, i // 3, 100 + i) for i in range(7)]
    disk.append(
        "log", b"".join(encode_entry(e) for e in entries) + encode_entry(Entry(7, 2, 9))[:-5]
    )
    assert read_log(disk.read("log")) == entries


def test_the_replicate_command_fails_on_the_broken_variant() -> None:
    from tests.conftest import run_cli

    ok = run_cli(["stream", "replicate", "--seeds", "0-1", "--ops", "60"])
    assert ok.exit_code == 0 and "0 of 2 runs" in ok.stdout
    broken = run_cli(["stream", "replicate", "--seeds", "0-3", "--variant", "broken"])
    assert broken.exit_code == 1 and "FAIL" in broken.stdout
    assert run_cli(["stream", "replicate", "--seeds", "x"]).exit_code == 2
