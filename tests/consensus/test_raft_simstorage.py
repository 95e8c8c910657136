"""DiskStorage: Raft state on the simulated disk survives a crash as far as it was synced."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from archlab.consensus.raft import (
    ConfState,
    Entry,
    EntryKind,
    HardState,
    MemoryStorage,
    Snapshot,
    SnapshotMetadata,
)
from archlab.consensus.raft.simstorage import (
    HARD_FILE,
    LOG_FILE,
    CorruptStorageError,
    DiskStorage,
    decode_entry,
    encode_entry,
)
from archlab.sim.disk import Disk
from archlab.sim.records import frame, write_state

CONF = ConfState.of([1, 2, 3])


def fresh() -> tuple[Disk, DiskStorage]:
    disk = Disk()
    DiskStorage.bootstrap(disk, CONF)
    disk.fsync()
    return disk, DiskStorage.open(disk)


def state_of(storage: DiskStorage | MemoryStorage) -> tuple[object, ...]:
    first, last = storage.first_index(), storage.last_index()
    entries = storage.entries(first, last + 1) if last >= first else []
    return storage.hard_state(), storage.snapshot(), tuple(entries)


def entries(first: int, term: int, count: int) -> list[Entry]:
    return [Entry(term, i, f"cmd{i}".encode()) for i in range(first, first + count)]


class TestRoundTrip:
    def test_a_bootstrapped_disk_names_the_configuration(self) -> None:
        _, storage = fresh()
        assert storage.snapshot().metadata.conf == CONF
        assert (storage.first_index(), storage.last_index()) == (1, 0)

    def test_an_empty_disk_is_a_server_waiting_to_be_added(self) -> None:
        storage = DiskStorage.open(Disk())
        assert storage.snapshot().metadata.conf == ConfState()
        assert storage.hard_state() == HardState()

    def test_persisted_and_synced_state_reads_back(self) -> None:
        disk, storage = fresh()
        config = Entry(2, 4, ConfState.of([1, 2]).encode(), EntryKind.CONFIG)
        storage.persist(HardState(2, 1, 3), [*entries(1, 1, 3), config], None)
        disk.fsync()
        assert state_of(DiskStorage.open(disk)) == state_of(storage)

    def test_entries_encode_byte_for_byte(self) -> None:
        entry = Entry(7, 12, b"\x00\xffdata", EntryKind.CONFIG)
        assert decode_entry(encode_entry(entry)) == entry

    def test_a_conflicting_suffix_is_replaced_on_disk(self) -> None:
        disk, storage = fresh()
        storage.persist(None, entries(1, 1, 5), None)
        storage.persist(HardState(2, None, 2), entries(3, 2, 2), None)
        disk.fsync()
        reopened = DiskStorage.open(disk)
        assert [(e.index, e.term) for e in reopened.entries(1, 5)] == [
            (1, 1),
            (2, 1),
            (3, 2),
            (4, 2),
        ]


class TestCrashes:
    def test_a_crash_loses_exactly_what_was_not_synced(self) -> None:
        disk, storage = fresh()
        storage.persist(HardState(1, 2, 2), entries(1, 1, 2), None)
        disk.fsync()
        synced = state_of(storage)
        storage.persist(HardState(3, 3, 2), entries(3, 3, 4), None)
        disk.crash()
        assert state_of(DiskStorage.open(disk)) == synced

    def test_a_torn_last_record_is_cut_off_by_its_checksum(self) -> None:
        disk, storage = fresh()
        storage.persist(None, entries(1, 1, 3), None)
        disk.fsync()
        storage.persist(None, entries(4, 1, 3), None)
        disk.crash(random.Random(5), torn=True)
        reopened = DiskStorage.open(disk)
        assert 3 <= reopened.last_index() <= 6
        for entry in reopened.entries(1, reopened.last_index() + 1):
            assert entry.data == f"cmd{entry.index}".encode()

    def test_compaction_is_all_or_nothing_at_the_next_sync(self) -> None:
        disk, storage = fresh()
        storage.persist(HardState(1, 1, 6), entries(1, 1, 8), None)
        disk.fsync()
        before = state_of(storage)
        snapshot = Snapshot(SnapshotMetadata(6, 1, CONF), b"state@6")
        storage.compact(snapshot)
        disk.crash(random.Random(1), torn=True)
        assert state_of(DiskStorage.open(disk)) == before
        storage = DiskStorage.open(disk)
        storage.compact(snapshot)
        disk.fsync()
        reopened = DiskStorage.open(disk)
        assert reopened.snapshot() == snapshot
        assert [e.index for e in reopened.entries(7, 9)] == [7, 8]

    def test_an_installed_snapshot_replaces_the_whole_log(self) -> None:
        disk, storage = fresh()
        storage.persist(None, entries(1, 1, 3), None)
        snapshot = Snapshot(SnapshotMetadata(10, 4, CONF), b"leader state")
        storage.persist(HardState(4, None, 10), [], snapshot)
        disk.fsync()
        reopened = DiskStorage.open(disk)
        assert (reopened.snapshot(), reopened.first_index(), reopened.last_index()) == (
            snapshot,
            11,
            10,
        )


class TestCorruption:
    def test_a_commit_index_beyond_the_log_is_refused(self) -> None:
        disk, storage = fresh()
        storage.persist(None, entries(1, 1, 2), None)
        write_state(disk, HARD_FILE, {"term": 1, "vote": None, "commit": 5})
        with pytest.raises(CorruptStorageError, match="commit index 5 beyond the last entry 2"):
            DiskStorage.open(disk)

    def test_a_gap_in_the_log_is_refused(self) -> None:
        disk, _ = fresh()
        disk.replace(LOG_FILE, frame(encode_entry(Entry(1, 1))) + frame(encode_entry(Entry(1, 3))))
        with pytest.raises(CorruptStorageError, match="entry 3 where 2 was expected"):
            DiskStorage.open(disk)


operation = st.one_of(
    st.tuples(st.just("append"), st.integers(0, 3), st.integers(1, 4)),
    st.tuples(st.just("hard"), st.integers(0, 2), st.integers(0, 3)),
    st.tuples(st.just("compact"), st.integers(0, 5), st.just(0)),
    st.tuples(st.just("install"), st.integers(1, 6), st.just(0)),
    st.tuples(st.just("sync"), st.just(0), st.just(0)),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(operation, max_size=30), st.integers(0, 10**6), st.booleans())
def test_recovery_matches_the_state_at_the_last_sync(
    ops: list[tuple[str, int, int]], seed: int, torn: bool
) -> None:
    """A crash recovers the hard state and snapshot of the last sync, and its log; a torn
    crash may keep a prefix of the log writes made since — appends, or the truncation of an
    uncommitted suffix — never a torn or invented entry."""
    disk, storage = fresh()
    model = MemoryStorage(CONF)
    synced = state_of(model)
    #: Log contents reachable by a torn crash: after each write to the synced log file.
    reachable: list[tuple[Entry, ...]] = [synced[2]]  # type: ignore[list-item]
    log_replaced = False
    term = 1
    for kind, a, b in ops:
        last = model.last_index()
        if kind == "append":
            term += a % 2
            first = max(model.first_index(), model.hard_state().commit + 1, last + 1 - a)
            if first <= last and not log_replaced:  # the truncation of the uncommitted suffix
                reachable.append(tuple(model.entries(model.first_index(), first)))
            for entry in entries(first, term, b):
                storage.persist(None, [entry], None)
                model.persist(None, [entry], None)
                if not log_replaced:
                    reachable.append(state_of(model)[2])  # type: ignore[arg-type]
        elif kind == "hard":
            commit = max(model.hard_state().commit, min(model.hard_state().commit + b, last))
            hard = HardState(term + a, None, commit)
            storage.persist(hard, [], None)
            model.persist(hard, [], None)
        elif kind == "compact" and model.hard_state().commit >= model.first_index():
            index = min(model.hard_state().commit, model.snapshot().index + 1 + a)
            snapshot = Snapshot(SnapshotMetadata(index, model.term(index), CONF), b"s")
            storage.compact(snapshot)
            model.compact(snapshot)
            log_replaced = True
        elif kind == "install":
            term += 1
            snapshot = Snapshot(SnapshotMetadata(last + a, term, CONF), b"i")
            hard = HardState(term, None, last + a)
            storage.persist(hard, [], snapshot)
            model.persist(hard, [], snapshot)
            log_replaced = True
        elif kind == "sync":
            disk.fsync()
            synced = state_of(model)
            reachable, log_replaced = [synced[2]], False  # type: ignore[list-item]
        assert state_of(storage) == state_of(model)
    disk.crash(random.Random(seed), torn=torn)
    hard, snapshot, kept = state_of(DiskStorage.open(disk))
    assert (hard, snapshot) == synced[:2]
    if torn:
        assert kept in reachable
    else:
        assert kept == synced[2]
