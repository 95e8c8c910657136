"""Zab storage: epochs and history survive a crash once synced; TRUNC and snapshots rewrite."""

from __future__ import annotations

import pytest

from archlab.consensus.zab import HardState, MemoryZabStorage, Snapshot, Txn, Zxid
from archlab.consensus.zab.simstorage import CorruptStorageError, DiskZabStorage, encode_txn
from archlab.sim.disk import Disk
from archlab.sim.records import frame


def txns(epoch: int, first: int, last: int) -> list[Txn]:
    return [Txn(Zxid(epoch, c), f"{epoch}.{c}".encode()) for c in range(first, last + 1)]


def test_epochs_and_history_read_back_after_a_crash_once_synced() -> None:
    disk = Disk()
    DiskZabStorage.bootstrap(disk)
    storage = DiskZabStorage.open(disk)
    storage.persist(HardState(2, 1), None, 1, txns(1, 1, 3))
    disk.fsync()
    storage.persist(HardState(3, 2), None, 4, txns(2, 1, 2))  # never synced
    disk.crash()
    again = DiskZabStorage.open(disk)
    assert again.voter
    assert again.hard_state() == HardState(2, 1)
    assert again.txns() == txns(1, 1, 3)


def test_a_truncation_cuts_the_durable_history() -> None:
    disk = Disk()
    storage = DiskZabStorage.open(disk)
    storage.persist(None, None, 1, txns(1, 1, 4))
    storage.persist(None, None, 3, txns(2, 1, 1))  # TRUNC to 2, then <2,1>
    disk.fsync()
    assert DiskZabStorage.open(disk).txns() == [*txns(1, 1, 2), *txns(2, 1, 1)]


def test_a_snapshot_replaces_the_history_and_compaction_keeps_the_tail() -> None:
    disk = Disk()
    storage = DiskZabStorage.open(disk)
    storage.persist(None, None, 1, txns(1, 1, 5))
    storage.compact(Snapshot(Zxid(1, 3), 3, ((1, 3),), b"state"))
    disk.fsync()
    again = DiskZabStorage.open(disk)
    assert again.snapshot().length == 3 and again.txns() == txns(1, 4, 5)
    assert again.length == 5
    installed = Snapshot(Zxid(4, 2), 9, ((1, 7), (4, 2)), b"theirs")
    again.persist(None, installed, 10, txns(4, 3, 3))
    disk.fsync()
    last = DiskZabStorage.open(disk)
    assert last.snapshot() == installed and last.txns() == txns(4, 3, 3)


def test_a_history_whose_zxids_do_not_grow_is_reported_corrupt() -> None:
    disk = Disk()
    disk.replace(
        "zab.log", frame(encode_txn(txns(2, 1, 1)[0])) + frame(encode_txn(txns(1, 1, 1)[0]))
    )
    disk.fsync()
    with pytest.raises(CorruptStorageError, match="after"):
        DiskZabStorage.open(disk)


def test_a_wiped_disk_comes_back_as_an_observer() -> None:
    disk = Disk()
    DiskZabStorage.bootstrap(disk)
    disk.fsync()
    disk.wipe()
    assert not DiskZabStorage.open(disk).voter


def test_memory_storage_refuses_a_history_that_does_not_fit() -> None:
    storage = MemoryZabStorage()
    storage.persist(None, None, 1, txns(1, 1, 2))
    with pytest.raises(ValueError, match="outside"):
        storage.persist(None, None, 5, txns(1, 3, 3))
    with pytest.raises(ValueError, match="does not match"):
        storage.compact(Snapshot(Zxid(1, 9), 2, ((1, 2),), b""))
