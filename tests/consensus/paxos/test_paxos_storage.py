"""Multi-Paxos storage: what is synced survives a crash, torn tails are cut, snapshots replace."""

from __future__ import annotations

import random

import pytest

from archlab.consensus.paxos import Ballot, MemoryPaxosStorage, Slot, Snapshot
from archlab.consensus.paxos.simstorage import DiskPaxosStorage
from archlab.sim.disk import Disk


def test_promises_and_slots_read_back_after_a_crash_once_synced() -> None:
    disk = Disk()
    DiskPaxosStorage.bootstrap(disk)
    storage = DiskPaxosStorage.open(disk)
    storage.persist(Ballot(3, 2), [Slot(1, Ballot(3, 2), b"a"), Slot(2, Ballot(3, 2), b"")], None)
    disk.fsync()
    storage.persist(None, [Slot(1, Ballot(3, 2), b"a", chosen=True)], None)  # learned, unsynced
    storage.persist(Ballot(4, 1), [Slot(3, Ballot(4, 1), b"c")], None)  # never synced
    disk.crash()
    again = DiskPaxosStorage.open(disk)
    assert again.voter
    assert again.promised() == Ballot(3, 2)
    assert again.slots() == [Slot(1, Ballot(3, 2), b"a"), Slot(2, Ballot(3, 2), b"")]


def test_the_last_record_of_a_slot_wins() -> None:
    disk = Disk()
    storage = DiskPaxosStorage.open(disk)
    storage.persist(None, [Slot(5, Ballot(1, 1), b"x")], None)
    storage.persist(None, [Slot(5, Ballot(2, 2), b"y")], None)
    storage.persist(None, [Slot(5, Ballot(2, 2), b"y", chosen=True)], None)
    disk.fsync()
    assert DiskPaxosStorage.open(disk).slot(5) == Slot(5, Ballot(2, 2), b"y", chosen=True)


def test_a_torn_last_record_is_cut_off_by_its_checksum() -> None:
    disk = Disk()
    storage = DiskPaxosStorage.open(disk)
    storage.persist(None, [Slot(1, Ballot(1, 1), b"first")], None)
    disk.fsync()
    disk.append("paxos.log", b"\x00\x00\x01\x00garbage")  # half a frame, as a crash leaves it
    disk.fsync()
    assert [s.index for s in DiskPaxosStorage.open(disk).slots()] == [1]
    storage = DiskPaxosStorage.open(disk)  # the torn tail is gone: appends go after slot 1
    storage.persist(None, [Slot(2, Ballot(1, 1), b"second" * 50)], None)
    disk.crash(random.Random(3), torn=True)  # unsynced: lost or torn, never half-read
    assert [s.index for s in DiskPaxosStorage.open(disk).slots()] == [1]


def test_a_wiped_disk_comes_back_as_a_learner() -> None:
    disk = Disk()
    DiskPaxosStorage.bootstrap(disk)
    disk.fsync()
    assert DiskPaxosStorage.open(disk).voter
    disk.wipe()
    assert not DiskPaxosStorage.open(disk).voter


def test_compaction_replaces_chosen_slots_by_the_snapshot_and_survives_a_crash() -> None:
    disk = Disk()
    storage = DiskPaxosStorage.open(disk)
    slots = [Slot(i, Ballot(1, 1), f"v{i}".encode(), chosen=i <= 3) for i in range(1, 6)]
    storage.persist(Ballot(1, 1), slots, None)
    storage.compact(Snapshot(3, b"state"))
    disk.fsync()
    disk.crash()
    again = DiskPaxosStorage.open(disk)
    assert again.snapshot() == Snapshot(3, b"state")
    assert [s.index for s in again.slots()] == [4, 5]
    with pytest.raises(ValueError, match="not chosen"):
        again.compact(Snapshot(5, b"later"))


def test_memory_storage_refuses_a_promise_going_back_and_an_older_snapshot() -> None:
    storage = MemoryPaxosStorage()
    storage.persist(Ballot(2, 1), [], None)
    with pytest.raises(ValueError, match="going back"):
        storage.persist(Ballot(1, 1), [], None)
    storage.persist(None, [], Snapshot(4, b"s"))
    with pytest.raises(ValueError, match="older"):
        storage.persist(None, [], Snapshot(2, b"s"))
