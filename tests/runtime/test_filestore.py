"""FileStorage: what was synced survives a crash at any point; damage is reported, not read."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from archlab.consensus.raft.storage import MemoryStorage
from archlab.consensus.raft.types import (
    ConfState,
    Entry,
    EntryKind,
    HardState,
    Snapshot,
    SnapshotMetadata,
)
from archlab.errors import CorruptionError
from archlab.runtime.filestore import HARDSTATE_FILE, SNAPSHOT_FILE, FileStorage

CONF = ConfState.of([1, 2, 3])


def _state(s: FileStorage | MemoryStorage) -> tuple[object, ...]:
    entries = s.entries(s.first_index(), s.last_index() + 1)
    return (s.hard_state(), s.snapshot(), s.first_index(), s.last_index(), entries)


def _entries(first: int, count: int, term: int) -> list[Entry]:
    return [Entry(term, i, f"cmd{i}@{term}".encode()) for i in range(first, first + count)]


def _wal(directory: Path) -> Path:
    (wal,) = [p for p in directory.iterdir() if p.name.startswith("wal.")]
    return wal


def test_a_new_directory_is_bootstrapped_with_the_configuration(tmp_path: Path) -> None:
    s = FileStorage.open(tmp_path, CONF)
    assert s.snapshot().metadata.conf == CONF
    assert (s.first_index(), s.last_index(), s.hard_state()) == (1, 0, HardState())
    s.close()
    again = FileStorage.open(tmp_path, ConfState.of([9]))  # an existing directory wins
    assert again.snapshot().metadata.conf == CONF


def test_persisted_state_is_recovered(tmp_path: Path) -> None:
    s = FileStorage.open(tmp_path, CONF)
    s.persist(HardState(1, 1, 0), _entries(1, 3, 1), None)
    s.persist(HardState(1, 1, 2), [], None)  # a commit-only change: a log record
    s.persist(HardState(2, None, 2), _entries(3, 2, 2), None)  # overwrite from 3
    config = Entry(2, 5, CONF.encode(), EntryKind.CONFIG)
    s.persist(None, [config], None)
    before = _state(s)
    s.close()
    again = FileStorage.open(tmp_path)
    assert _state(again) == before
    assert again.entries(3, 6)[0].data == b"cmd3@2"
    assert again.entries(5, 6) == [config]


def test_group_commit_syncs_once_for_many_writes(tmp_path: Path) -> None:
    s = FileStorage.open(tmp_path, CONF)
    s.persist(HardState(1, 1, 0), [], None)
    before = s.syncs
    for i in range(1, 51):
        s.write(None, _entries(i, 1, 1), None)
    s.sync()
    assert s.syncs == before + 1
    s.close()
    assert FileStorage.open(tmp_path).last_index() == 50


def test_no_fsync_mode_keeps_data_across_a_process_restart(tmp_path: Path) -> None:
    s = FileStorage.open(tmp_path, CONF, durability="none")
    s.persist(HardState(1, 2, 0), _entries(1, 4, 1), None)
    assert s.syncs == 0
    s.close()
    again = FileStorage.open(tmp_path, durability="none")
    assert (again.last_index(), again.hard_state().vote) == (4, 2)


def test_compaction_keeps_the_suffix_and_survives_reopen(tmp_path: Path) -> None:
    s = FileStorage.open(tmp_path, CONF)
    s.persist(HardState(1, 1, 8), _entries(1, 10, 1), None)
    s.compact(Snapshot(SnapshotMetadata(6, 1, CONF), b"state@6"))
    before = _state(s)
    assert s.first_index() == 7
    s.close()
    again = FileStorage.open(tmp_path)
    assert _state(again) == before
    assert again.snapshot().data == b"state@6"
    assert len([p for p in tmp_path.iterdir() if p.name.startswith("wal.")]) == 1


def test_an_installed_snapshot_replaces_the_whole_log(tmp_path: Path) -> None:
    s = FileStorage.open(tmp_path, CONF)
    s.persist(HardState(1, 1, 2), _entries(1, 5, 1), None)
    snap = Snapshot(SnapshotMetadata(20, 3, CONF), b"leader-state")
    s.persist(HardState(3, None, 20), [], snap)
    s.persist(None, _entries(21, 2, 3), None)
    s.close()
    again = FileStorage.open(tmp_path)
    assert (again.first_index(), again.last_index(), again.hard_state().commit) == (21, 22, 20)
    assert again.snapshot() == snap


def test_a_crash_during_a_generation_switch_keeps_the_old_pair(tmp_path: Path) -> None:
    s = FileStorage.open(tmp_path, CONF)
    s.persist(HardState(1, 1, 3), _entries(1, 5, 1), None)
    before = _state(s)
    s.close()
    # The new log was written, the crash came before the snapshot file was replaced.
    (tmp_path / "wal.1").write_bytes(b"ARWL\x01garbage")
    again = FileStorage.open(tmp_path)
    assert _state(again) == before
    assert not (tmp_path / "wal.1").exists()


def test_a_leftover_temporary_file_is_ignored(tmp_path: Path) -> None:
    s = FileStorage.open(tmp_path, CONF)
    s.persist(HardState(4, 2, 0), [], None)
    s.close()
    (tmp_path / (HARDSTATE_FILE + ".tmp")).write_bytes(b"half-written")
    assert FileStorage.open(tmp_path).hard_state() == HardState(4, 2, 0)


def _three_batches(tmp_path: Path) -> tuple[int, int]:
    """Persist three batches; return the log's size after the second and after the third."""
    s = FileStorage.open(tmp_path, CONF)
    s.persist(HardState(1, 1, 0), _entries(1, 2, 1), None)
    s.persist(None, _entries(3, 2, 1), None)
    middle = _wal(tmp_path).stat().st_size
    s.persist(None, _entries(5, 2, 1), None)
    s.close()
    return middle, _wal(tmp_path).stat().st_size


def test_a_torn_tail_is_cut_at_every_crash_point(tmp_path: Path) -> None:
    middle, full = _three_batches(tmp_path)
    wal = _wal(tmp_path)
    original = wal.read_bytes()
    for cut in range(middle, full):
        wal.write_bytes(original[:cut])
        s = FileStorage.open(tmp_path)
        assert s.last_index() == 4, cut  # the torn third batch is gone, the rest intact
        assert s.torn_bytes == cut - middle
        s.persist(None, _entries(5, 1, 1), None)  # appends after the cut, not after garbage
        s.close()
        assert FileStorage.open(tmp_path).last_index() == 5


def test_a_zero_filled_tail_is_a_torn_tail(tmp_path: Path) -> None:
    middle, _full = _three_batches(tmp_path)
    wal = _wal(tmp_path)
    data = bytearray(wal.read_bytes())
    data[middle:] = bytes(len(data) - middle + 4096)
    wal.write_bytes(bytes(data))
    assert FileStorage.open(tmp_path).last_index() == 4


def test_a_damaged_last_record_is_a_torn_tail(tmp_path: Path) -> None:
    _middle, full = _three_batches(tmp_path)
    wal = _wal(tmp_path)
    data = bytearray(wal.read_bytes())
    data[full - 1] ^= 0xFF
    wal.write_bytes(bytes(data))
    assert FileStorage.open(tmp_path).last_index() == 4


def test_damage_before_the_tail_is_corruption(tmp_path: Path) -> None:
    middle, _full = _three_batches(tmp_path)
    wal = _wal(tmp_path)
    data = bytearray(wal.read_bytes())
    data[middle - 2] ^= 0x01  # inside the second batch, with the third after it
    wal.write_bytes(bytes(data))
    with pytest.raises(CorruptionError, match=r"wal\.0 at offset \d+: .*checksum"):
        FileStorage.open(tmp_path)


@pytest.mark.parametrize("name", [SNAPSHOT_FILE, HARDSTATE_FILE])
def test_a_damaged_state_file_is_corruption(tmp_path: Path, name: str) -> None:
    s = FileStorage.open(tmp_path, CONF)
    s.persist(HardState(2, 1, 0), [], None)
    s.close()
    path = tmp_path / name
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptionError, match=name):
        FileStorage.open(tmp_path)


def test_a_missing_log_is_corruption(tmp_path: Path) -> None:
    FileStorage.open(tmp_path, CONF).close()
    os.unlink(_wal(tmp_path))
    with pytest.raises(CorruptionError, match="missing"):
        FileStorage.open(tmp_path)


def test_the_recovered_commit_never_names_an_entry_that_was_not_synced(tmp_path: Path) -> None:
    """A new term and a commit index in one Ready: the entries reach disk before the file."""
    s = FileStorage.open(tmp_path, CONF)
    s.persist(HardState(1, 1, 0), _entries(1, 3, 1), None)
    s.write(HardState(2, 2, 5), _entries(4, 2, 2), None)  # no explicit sync
    s.close()
    again = FileStorage.open(tmp_path)
    assert again.hard_state().commit == 5
    assert again.term(5) == 2


# -- against the in-memory model, with reopens at random points ------------------------------

steps = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, 3), st.integers(1, 4)),
        st.tuples(st.just("hard"), st.integers(0, 2), st.integers(0, 3)),
        st.tuples(st.just("compact"), st.integers(0, 5), st.just(0)),
        st.tuples(st.just("snapshot"), st.integers(1, 6), st.just(0)),
        st.tuples(st.just("reopen"), st.just(0), st.just(0)),
    ),
    max_size=25,
)


@given(steps, st.integers(0, 2**32))
@settings(max_examples=60, deadline=None)
def test_file_storage_behaves_like_memory_storage_across_reopens(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, int]], seed: int
) -> None:
    directory = tmp_path_factory.mktemp("fs")
    rng = random.Random(seed)
    model = MemoryStorage(CONF)
    real = FileStorage.open(directory, CONF, durability="none")
    term = 1
    for op, a, b in ops:
        if op == "append":
            # A follower may replace its uncommitted tail, never a committed entry.
            first = max(model.hard_state().commit + 1, model.last_index() + 1 - a)
            term += rng.random() < 0.3
            batch = _entries(first, b, term)
            model.persist(None, batch, None)
            real.persist(None, batch, None)
        elif op == "hard":
            hard = model.hard_state()
            commit = min(model.last_index(), hard.commit + b)
            new = HardState(hard.term + a, rng.choice([None, 1, 2]), commit)
            model.persist(new, [], None)
            real.persist(new, [], None)
        elif op == "compact":
            # Only applied (so committed) entries are ever compacted.
            index = min(model.hard_state().commit, model.snapshot().index + a)
            if index > model.snapshot().index:
                snap = Snapshot(SnapshotMetadata(index, model.term(index), CONF), b"s%d" % index)
                model.compact(snap)
                real.compact(snap)
        elif op == "snapshot":
            index = model.last_index() + a
            snap = Snapshot(SnapshotMetadata(index, term, CONF), b"i%d" % index)
            hard = HardState(max(term, model.hard_state().term), None, index)
            model.persist(hard, [], snap)
            real.persist(hard, [], snap)
        else:
            real.close()
            real = FileStorage.open(directory, durability="none")
        assert _state(real) == _state(model)
    real.close()


def test_without_checksums_damage_would_be_read_as_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The broken variant: a log that trusts its records returns the flipped byte as data."""
    import struct

    from archlab.runtime import wal

    def trusting_scan(data: bytes, path: Path) -> tuple[list[bytes], int]:
        records, pos = [], 5
        while pos + 8 <= len(data):
            (length,) = struct.unpack_from("<I", data, pos)
            records.append(data[pos + 8 : pos + 8 + length])
            pos += 8 + length
        return records, pos

    s = FileStorage.open(tmp_path, CONF)
    s.persist(HardState(1, 1, 0), [Entry(1, 1, b"value=AAAA")], None)
    s.persist(None, [Entry(1, 2, b"value=BBBB")], None)
    s.close()
    path = _wal(tmp_path)
    path.write_bytes(path.read_bytes().replace(b"AAAA", b"AAAB"))
    with pytest.raises(CorruptionError):
        FileStorage.open(tmp_path)
    monkeypatch.setattr(wal, "scan", trusting_scan)
    damaged = FileStorage.open(tmp_path).entries(1, 2)[0].data
    assert damaged == b"value=AAAB"  # wrong data, silently: what the checksum prevents
