"""FileDisk: the records interface on real files; storages reopen what they wrote."""

from __future__ import annotations

from pathlib import Path

from archlab.consensus.paxos.simstorage import DiskPaxosStorage
from archlab.consensus.paxos.types import Ballot, Slot, Snapshot
from archlab.runtime.filedisk import FileDisk
from archlab.sim.records import RecordLog, read_state, write_state


def test_records_and_state_files_survive_a_reopen(tmp_path: Path) -> None:
    disk = FileDisk(tmp_path)
    log = RecordLog.open(disk, "log")
    for i in range(5):
        log.append(f"r{i}".encode())
    log.truncate(3)
    log.append(b"r3'")
    write_state(disk, "state", {"a": 1})
    disk.fsync()
    disk.close()
    again = FileDisk(tmp_path)
    assert RecordLog.open(again, "log").records == [b"r0", b"r1", b"r2", b"r3'"]
    assert read_state(again, "state") == {"a": 1}
    assert again.syncs == 0 and disk.syncs == 1


def test_a_torn_tail_is_cut_on_open(tmp_path: Path) -> None:
    disk = FileDisk(tmp_path)
    log = RecordLog.open(disk, "log")
    log.append(b"whole")
    disk.append("log", b"\x00\x00\x00\x09torn")  # a record cut short by a crash
    disk.close()
    reopened = RecordLog.open(FileDisk(tmp_path), "log")
    assert reopened.records == [b"whole"] and reopened.recovered_torn_bytes > 0


def test_a_paxos_storage_on_files_reopens_its_promises_and_slots(tmp_path: Path) -> None:
    disk = FileDisk(tmp_path)
    DiskPaxosStorage.bootstrap(disk)
    storage = DiskPaxosStorage.open(disk)
    storage.persist(Ballot(2, 1), [Slot(1, Ballot(2, 1), b"a", True)], None)
    storage.compact(Snapshot(1, b"machine"))
    storage.persist(None, [Slot(2, Ballot(2, 1), b"b")], None)
    disk.fsync()
    disk.close()
    again = DiskPaxosStorage.open(FileDisk(tmp_path))
    assert again.voter and again.promised() == Ballot(2, 1)
    assert again.snapshot() == Snapshot(1, b"machine")
    assert again.slots() == [Slot(2, Ballot(2, 1), b"b")]
