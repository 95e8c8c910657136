"""The simulated disk: fsync durability, crash loss, torn writes, and checksummed records."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from archlab.sim.disk import Disk
from archlab.sim.records import RecordLog, decode, encode, frame, read_state, write_state


def test_synced_data_survives_a_crash_and_unsynced_data_does_not() -> None:
    disk = Disk()
    disk.append("log", b"durable")
    disk.fsync("log")
    disk.append("log", b"+volatile")
    assert disk.read("log") == b"durable+volatile"
    assert disk.dirty
    report = disk.crash()
    assert disk.read("log") == b"durable"
    assert report.lost_writes == 1 and report.lost_bytes == len(b"+volatile")
    assert not disk.dirty


def test_a_file_never_synced_does_not_exist_after_a_crash() -> None:
    disk = Disk()
    disk.write("new", 0, b"x")
    disk.crash()
    assert not disk.exists("new")


def test_fsync_of_one_file_leaves_other_files_data_volatile() -> None:
    disk = Disk()
    disk.write("a", 0, b"a1")
    disk.write("b", 0, b"b1")
    disk.fsync()
    disk.write("a", 0, b"a2")
    disk.write("b", 0, b"b2")
    disk.fsync("a")
    disk.crash()
    assert disk.read("a") == b"a2" and disk.read("b") == b"b1"


def test_writes_truncates_and_gaps_behave_like_a_file() -> None:
    disk = Disk()
    disk.write("f", 4, b"xy")
    assert disk.read("f") == b"\0\0\0\0xy"
    disk.truncate("f", 2)
    assert disk.size("f") == 2
    disk.fsync()
    assert disk.durable_read("f") == b"\0\0"
    assert disk.read("f", 1, 1) == b"\0"


def test_replace_is_atomic_across_a_crash() -> None:
    disk = Disk()
    disk.replace("state", b"old")
    disk.fsync()
    disk.replace("state", b"new-and-longer")
    disk.crash()
    assert disk.read("state") == b"old"
    disk.replace("state", b"new-and-longer")
    disk.fsync("state")
    disk.crash()
    assert disk.read("state") == b"new-and-longer"
    assert disk.listdir() == ["state"]


def test_rename_and_delete_become_durable_with_a_sync() -> None:
    disk = Disk()
    disk.write("a", 0, b"1")
    disk.fsync()
    disk.rename("a", "b")
    disk.crash()
    assert disk.listdir() == ["a"]
    disk.rename("a", "b")
    disk.fsync()
    disk.delete("b")
    disk.crash()
    assert disk.listdir() == ["b"]
    with pytest.raises(FileNotFoundError):
        disk.read("a")


def test_a_torn_crash_keeps_a_prefix_of_the_pending_writes() -> None:
    torn_seen = 0
    for seed in range(50):
        disk = Disk()
        disk.append("log", b"base")
        disk.fsync()
        writes = [bytes([65 + i]) * 8 for i in range(4)]
        for w in writes:
            disk.append("log", w)
        report = disk.crash(random.Random(seed), torn=True)
        data = disk.read("log")
        assert (b"base" + b"".join(writes)).startswith(data)
        assert data.startswith(b"base")
        torn_seen += report.torn_writes
    assert torn_seen == 50


def test_wipe_is_a_new_empty_disk() -> None:
    disk = Disk()
    disk.write("f", 0, b"x")
    disk.fsync()
    disk.wipe()
    assert disk.listdir() == [] and not disk.exists("f")


def test_record_log_round_trips_and_truncates() -> None:
    disk = Disk()
    log = RecordLog.open(disk, "log")
    for i in range(5):
        assert log.append(encode({"i": i})) == i
    log.truncate(3)
    log.append(encode({"i": "x"}))
    disk.fsync()
    reopened = RecordLog.open(disk, "log")
    assert [decode(r) for r in reopened.records] == [{"i": 0}, {"i": 1}, {"i": 2}, {"i": "x"}]
    assert reopened.recovered_torn_bytes == 0


def test_record_log_detects_corruption_instead_of_returning_it() -> None:
    disk = Disk()
    log = RecordLog.open(disk, "log")
    log.append(b"good")
    log.append(b"will be corrupted")
    disk.fsync()
    raw = bytearray(disk.read("log"))
    raw[-3] ^= 0xFF  # flip bits inside the second record's payload
    disk.write("log", 0, bytes(raw))
    reopened = RecordLog.open(disk, "log")
    assert reopened.records == [b"good"]
    assert reopened.recovered_torn_bytes == len(frame(b"will be corrupted"))


@settings(max_examples=80, deadline=None)
@given(
    st.integers(0, 2**32),
    st.lists(st.sampled_from(["append", "append", "append", "sync", "crash", "torn"]), max_size=40),
)
def test_record_log_recovers_a_prefix_holding_every_synced_record(
    seed: int, steps: list[str]
) -> None:
    rng = random.Random(seed)
    disk = Disk()
    log = RecordLog.open(disk, "log")
    model: list[bytes] = []
    synced = 0
    counter = 0
    for step in steps:
        if step == "append":
            counter += 1
            payload = encode({"n": counter, "pad": "x" * rng.randrange(20)})
            log.append(payload)
            model.append(payload)
        elif step == "sync":
            disk.fsync()
            synced = len(model)
        else:
            disk.crash(rng, torn=step == "torn")
            log = RecordLog.open(disk, "log")
            recovered = log.records
            assert recovered == model[: len(recovered)], "recovered records are a prefix"
            assert len(recovered) >= synced, "no synced record is lost"
            model = recovered
            disk.fsync()
            synced = len(model)


def test_state_file_is_old_or_new_never_torn() -> None:
    for seed in range(30):
        disk = Disk()
        write_state(disk, "s", {"v": 1})
        disk.fsync()
        write_state(disk, "s", {"v": 2, "pad": "y" * 100})
        disk.crash(random.Random(seed), torn=True)
        assert read_state(disk, "s") in ({"v": 1}, {"v": 2, "pad": "y" * 100})
    assert read_state(Disk(), "missing") is None
