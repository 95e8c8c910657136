"""Raft's durable storage on real files: the runtime's ``DurableStorage`` (codex 5.3).

A node's directory holds:

- ``snapshot`` — the latest snapshot (index, term, configuration, state-machine bytes) and the
  *generation* of the log that continues it; replaced atomically
  (:mod:`archlab.runtime.atomicfile`);
- ``wal.<generation>`` — the write-ahead log (:mod:`archlab.runtime.wal`) of entries after the
  snapshot, and of commit-index updates;
- ``hardstate`` — term, vote and commit index, replaced atomically, written only when the term
  or the vote changes (a commit-index change is a small log record instead, so the common
  Ready costs one append and one fsync).

**Writes** follow the Ready contract: :meth:`FileStorage.write` puts one Ready's snapshot,
entries and hard state in place (entries as one record; a new term or vote as an atomic file,
synced at once), and :meth:`FileStorage.sync` makes the appended records durable. A host calls
``write`` for every Ready and ``sync`` once before sending the messages of all of them: that is
group commit. :meth:`persist` is both; opened with ``group_commit=True`` it only writes, for a
server that persists through the storage while its host issues the syncs.

**Snapshots switch generations atomically.** Installing a snapshot or compacting the log writes
the new log ``wal.<g+1>`` (the entries the snapshot does not cover), syncs it, then replaces
``snapshot`` naming generation ``g+1`` — the commit point — then deletes ``wal.<g>``. A crash
before the rename leaves the old snapshot and the old log, intact; after it, the new pair.

**Recovery** (:meth:`FileStorage.open`) reads the snapshot, replays its log (a record of
entries starting at index *i* replaces everything from *i* on, as a follower's truncation did),
cuts a torn tail (never-synced, never-acknowledged records) and refuses corrupt files with
:class:`~archlab.errors.CorruptionError`. The recovered commit index is the largest of the hard
state's, the last commit record's and the snapshot's, capped at the last index.

Reads are served from memory (a :class:`~archlab.consensus.raft.storage.MemoryStorage`
mirroring the files), so a Raft node reading entries to send never touches the disk.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from pathlib import Path

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
from archlab.runtime.atomicfile import read_atomic, write_atomic
from archlab.runtime.codec import decode_snapshot, encode_snapshot
from archlab.runtime.wal import Durability, WriteAheadLog
from archlab.runtime.wire import DecodeError, Reader, Writer

SNAPSHOT_FILE = "snapshot"
HARDSTATE_FILE = "hardstate"
_SNAPSHOT_MAGIC = b"ARSN"
_HARDSTATE_MAGIC = b"ARHS"
_ENTRIES, _COMMIT = 1, 2
_ENTRY_HEAD = struct.Struct("<QQBI")


def _wal_name(generation: int) -> str:
    return f"wal.{generation}"


def _encode_entries(entries: Sequence[Entry]) -> bytes:
    parts = [bytes([_ENTRIES]), struct.pack("<I", len(entries))]
    for e in entries:
        parts.append(_ENTRY_HEAD.pack(e.term, e.index, e.kind is EntryKind.CONFIG, len(e.data)))
        parts.append(e.data)
    return b"".join(parts)


def _encode_commit(commit: int) -> bytes:
    return bytes([_COMMIT]) + struct.pack("<Q", commit)


class FileStorage:
    """A :class:`~archlab.consensus.raft.storage.DurableStorage` on files with fsync."""

    def __init__(
        self,
        directory: Path,
        memory: MemoryStorage,
        wal: WriteAheadLog,
        generation: int,
        durability: Durability,
        group_commit: bool,
    ) -> None:
        self.directory = directory
        self.durability = durability
        #: When set, :meth:`persist` only writes: the host syncs (see the module docstring).
        self.group_commit = group_commit
        self._memory = memory
        self._wal = wal
        self._generation = generation
        self._stored_term_vote = (memory.hard_state().term, memory.hard_state().vote)

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: str | Path,
        conf: ConfState | None = None,
        durability: Durability = "fsync",
        *,
        group_commit: bool = False,
    ) -> FileStorage:
        """Open the storage in ``directory``, creating it (bootstrapped with ``conf``) if new.

        ``group_commit=True``: :meth:`persist` writes without syncing, and the host calls
        :meth:`sync` once before sending anything that depends on the writes since the last.
        """
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        durable = durability == "fsync"
        snap_payload = read_atomic(path / SNAPSHOT_FILE, _SNAPSHOT_MAGIC)
        if snap_payload is None:
            snapshot = Snapshot(SnapshotMetadata(0, 0, conf or ConfState()))
            WriteAheadLog.create(path / _wal_name(0), [], durability)
            write_atomic(
                path / SNAPSHOT_FILE,
                _SNAPSHOT_MAGIC,
                _snapshot_payload(0, snapshot),
                durable=durable,
            )
            generation = 0
        else:
            generation, snapshot = _parse_snapshot(path / SNAPSHOT_FILE, snap_payload)
        _remove_stale_logs(path, generation)
        wal_path = path / _wal_name(generation)
        if not wal_path.exists():
            raise CorruptionError(wal_path, None, "the log named by the snapshot is missing")
        wal, records = WriteAheadLog.open(wal_path, durability)
        memory = MemoryStorage()
        memory.apply_snapshot(snapshot)
        commit = snapshot.index
        try:
            for record in records:
                commit = max(commit, _replay(memory, record, wal_path))
        except BaseException:
            wal.close()
            raise
        hard = _read_hard_state(path / HARDSTATE_FILE)
        commit = min(max(commit, hard.commit), memory.last_index())
        memory.set_hard_state(HardState(hard.term, hard.vote, commit))
        return cls(path, memory, wal, generation, durability, group_commit)

    @property
    def torn_bytes(self) -> int:
        """Bytes of torn log tail discarded when this storage was opened."""
        return self._wal.torn_bytes

    @property
    def syncs(self) -> int:
        return self._wal.syncs

    # -- read side (Storage) -------------------------------------------------------------

    def hard_state(self) -> HardState:
        return self._memory.hard_state()

    def snapshot(self) -> Snapshot:
        return self._memory.snapshot()

    def first_index(self) -> int:
        return self._memory.first_index()

    def last_index(self) -> int:
        return self._memory.last_index()

    def term(self, index: int) -> int:
        return self._memory.term(index)

    def entries(self, lo: int, hi: int) -> list[Entry]:
        return self._memory.entries(lo, hi)

    # -- write side ----------------------------------------------------------------------

    def write(
        self,
        hard_state: HardState | None,
        entries: Sequence[Entry],
        snapshot: Snapshot | None,
    ) -> None:
        """Put one Ready's state in place; records become durable at the next :meth:`sync`."""
        if snapshot is not None:
            self._install_snapshot(snapshot)
        records: list[bytes] = []
        if entries:
            self._memory.append(entries)
            records.append(_encode_entries(entries))
        new_term_or_vote = False
        if hard_state is not None:
            new_term_or_vote = (hard_state.term, hard_state.vote) != self._stored_term_vote
            if not new_term_or_vote and hard_state.commit != self._memory.hard_state().commit:
                records.append(_encode_commit(hard_state.commit))
            self._memory.set_hard_state(hard_state)
        self._wal.append(records)
        if hard_state is not None and new_term_or_vote:
            # The file's commit index may name this Ready's entries: they go first.
            self._wal.sync()
            self._write_hard_state(hard_state)

    def sync(self) -> None:
        """Make every record written so far durable (one fdatasync; thread-safe)."""
        self._wal.sync()

    def persist(
        self,
        hard_state: HardState | None,
        entries: Sequence[Entry],
        snapshot: Snapshot | None,
    ) -> None:
        """:meth:`write` then :meth:`sync` (the sync is the host's under ``group_commit``)."""
        self.write(hard_state, entries, snapshot)
        if not self.group_commit:
            self.sync()

    def compact(self, snapshot: Snapshot) -> None:
        """Replace the log up to ``snapshot.index`` (applied, held here) by ``snapshot``."""
        if snapshot.index <= self._memory.snapshot().index:
            return
        self._memory.compact(snapshot)
        self._switch_generation(snapshot)

    def close(self) -> None:
        self._wal.close()

    # -- internals -----------------------------------------------------------------------

    def _install_snapshot(self, snapshot: Snapshot) -> None:
        self._memory.apply_snapshot(snapshot)
        self._switch_generation(snapshot)

    def _switch_generation(self, snapshot: Snapshot) -> None:
        """Write the log that follows ``snapshot``, then the snapshot naming it (commit point)."""
        generation = self._generation + 1
        memory = self._memory
        retained = memory.entries(memory.first_index(), memory.last_index() + 1)
        records = [_encode_entries(retained)] if retained else []
        records.append(_encode_commit(memory.hard_state().commit))
        new_path = self.directory / _wal_name(generation)
        WriteAheadLog.create(new_path, records, self.durability)
        write_atomic(
            self.directory / SNAPSHOT_FILE,
            _SNAPSHOT_MAGIC,
            _snapshot_payload(generation, snapshot),
            durable=self.durability == "fsync",
        )
        old = self._wal
        self._wal, _ = WriteAheadLog.open(new_path, self.durability)
        self._wal.syncs = old.syncs
        old.close()
        self._generation = generation
        _remove_stale_logs(self.directory, generation)

    def _write_hard_state(self, hard_state: HardState) -> None:
        w = Writer()
        w.u64(hard_state.term)
        w.opt_id(hard_state.vote)
        w.u64(hard_state.commit)
        write_atomic(
            self.directory / HARDSTATE_FILE,
            _HARDSTATE_MAGIC,
            w.getvalue(),
            durable=self.durability == "fsync",
        )
        self._stored_term_vote = (hard_state.term, hard_state.vote)


def _snapshot_payload(generation: int, snapshot: Snapshot) -> bytes:
    return struct.pack("<Q", generation) + encode_snapshot(snapshot)


def _parse_snapshot(path: Path, payload: bytes) -> tuple[int, Snapshot]:
    if len(payload) < 8:
        raise CorruptionError(path, None, "snapshot payload too short")
    (generation,) = struct.unpack_from("<Q", payload)
    try:
        return generation, decode_snapshot(payload[8:])
    except DecodeError as exc:
        raise CorruptionError(path, None, f"snapshot does not decode: {exc}") from None


def _read_hard_state(path: Path) -> HardState:
    payload = read_atomic(path, _HARDSTATE_MAGIC)
    if payload is None:
        return HardState()
    try:
        r = Reader(payload)
        hard = HardState(r.u64(), r.opt_id(), r.u64())
        r.end()
    except DecodeError as exc:
        raise CorruptionError(path, None, f"hard state does not decode: {exc}") from None
    return hard


def _replay(memory: MemoryStorage, record: bytes, path: Path) -> int:
    """Apply one log record to ``memory``; returns the commit index it names (or 0)."""
    kind = record[0]
    try:
        if kind == _ENTRIES:
            (count,) = struct.unpack_from("<I", record, 1)
            pos = 5
            entries = []
            for _ in range(count):
                term, index, config, size = _ENTRY_HEAD.unpack_from(record, pos)
                pos += _ENTRY_HEAD.size
                data = record[pos : pos + size]
                if len(data) != size or config > 1:
                    raise DecodeError("bad entry")
                pos += size
                entries.append(Entry(term, index, data, _entry_kind(config)))
            if pos != len(record):
                raise DecodeError("trailing bytes")
            memory.append(entries)
            return 0
        if kind == _COMMIT and len(record) == 9:
            return int(struct.unpack_from("<Q", record, 1)[0])
    except (struct.error, DecodeError, ValueError) as exc:
        raise CorruptionError(path, None, f"log record does not decode: {exc}") from None
    raise CorruptionError(path, None, f"unknown log record kind {kind}")


def _entry_kind(config: int) -> EntryKind:
    return EntryKind.CONFIG if config else EntryKind.NORMAL


def _remove_stale_logs(directory: Path, generation: int) -> None:
    """Delete logs of other generations (left by a crash around a switch)."""
    keep = _wal_name(generation)
    for child in directory.iterdir():
        if child.name.startswith("wal.") and child.name != keep:
            os.unlink(child)
