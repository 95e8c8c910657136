"""Raft's storage on the simulator's disk: what a crash keeps is what was synced (codex 5.3).

:class:`DiskStorage` implements :class:`~archlab.consensus.raft.DurableStorage` over a
:class:`~archlab.sim.disk.Disk`, in three files:

- ``raft.hard``: the hard state (term, vote, commit) as one checksummed record, replaced
  atomically (:func:`~archlab.sim.records.write_state`);
- ``raft.snap``: the latest snapshot (index, term, configuration, state machine bytes), replaced
  atomically;
- ``raft.log``: the entries after the snapshot, one checksummed frame each
  (:class:`~archlab.sim.records.RecordLog`); truncating a conflicting suffix cuts the file;
- ``raft.recovery``: the :class:`DiskRecoveryMark`, written when the disk is provisioned (the
  world's bootstrap, for every host): a disk without it was wiped, and its node starts in
  recovery (:mod:`archlab.consensus.raft.recovery`) until the cluster re-admits it.

Writes go to the disk at once but are volatile until the host syncs it (the ``Sync`` effect
the server's :class:`~archlab.consensus.server.SyncStorage` action becomes), so a crash loses
exactly the unsynced tail. Installing or taking a snapshot rewrites the log under a new file
renamed over the old one, so snapshot and log change together at the next sync, never one
without the other. Reads are served from an in-memory mirror (a
:class:`~archlab.consensus.raft.MemoryStorage`) rebuilt from the files by :meth:`DiskStorage.open`;
a torn last record is cut off by the checksums, and a state the files cannot explain (a gap in
the log, a commit index past it) raises :class:`CorruptStorageError` instead of being used.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from typing import Any

from archlab.consensus.raft.storage import MemoryStorage
from archlab.consensus.raft.types import (
    ConfState,
    Entry,
    EntryKind,
    HardState,
    Snapshot,
    SnapshotMetadata,
)
from archlab.errors import ArchlabError
from archlab.sim.disk import Disk
from archlab.sim.records import RecordLog, read_state, write_state

HARD_FILE = "raft.hard"
SNAP_FILE = "raft.snap"
LOG_FILE = "raft.log"
RECOVERY_FILE = "raft.recovery"

_HEADER = struct.Struct(">QQB")
_KIND_CODES = {EntryKind.NORMAL: 0, EntryKind.CONFIG: 1}
_KINDS = {code: kind for kind, code in _KIND_CODES.items()}


class CorruptStorageError(ArchlabError):
    """The files on a node's disk do not form a valid Raft state."""


def encode_entry(entry: Entry) -> bytes:
    return _HEADER.pack(entry.term, entry.index, _KIND_CODES[entry.kind]) + entry.data


def decode_entry(record: bytes) -> Entry:
    term, index, kind = _HEADER.unpack_from(record)
    return Entry(term, index, record[_HEADER.size :], _KINDS[kind])


def _snapshot_to_json(snapshot: Snapshot) -> dict[str, Any]:
    conf = snapshot.metadata.conf
    return {
        "index": snapshot.index,
        "term": snapshot.term,
        "voters": sorted(conf.voters),
        "learners": sorted(conf.learners),
        "data": base64.b64encode(snapshot.data).decode("ascii"),
    }


def _snapshot_from_json(body: dict[str, Any]) -> Snapshot:
    conf = ConfState(frozenset(body["voters"]), frozenset(body["learners"]))
    metadata = SnapshotMetadata(int(body["index"]), int(body["term"]), conf)
    return Snapshot(metadata, base64.b64decode(body["data"]))


class DiskStorage:
    """A Raft storage whose durability is the simulated disk's (see the module docstring)."""

    def __init__(self, disk: Disk, mirror: MemoryStorage, log: RecordLog) -> None:
        self.disk = disk
        self._mirror = mirror
        self._log = log

    @staticmethod
    def bootstrap(disk: Disk, conf: ConfState) -> None:
        """Write the initial state of a founding member: an empty snapshot naming ``conf``."""
        write_state(disk, SNAP_FILE, _snapshot_to_json(Snapshot(SnapshotMetadata(0, 0, conf))))

    @classmethod
    def open(cls, disk: Disk) -> DiskStorage:
        """Read back what the disk holds (nothing at all: a server waiting to be added)."""
        mirror = MemoryStorage()
        snap = read_state(disk, SNAP_FILE)
        if snap is not None:
            mirror.apply_snapshot(_snapshot_from_json(snap))
        log = RecordLog.open(disk, LOG_FILE)
        entries = [decode_entry(record) for record in log.records]
        expected = mirror.snapshot().index + 1
        for entry in entries:
            if entry.index != expected:
                raise CorruptStorageError(
                    f"{LOG_FILE}: entry {entry.index} where {expected} was expected "
                    f"(snapshot at {mirror.snapshot().index})"
                )
            expected += 1
        mirror.append(entries)
        hard = read_state(disk, HARD_FILE)
        if hard is not None:
            state = HardState(int(hard["term"]), hard["vote"], int(hard["commit"]))
            if state.commit > mirror.last_index():
                raise CorruptStorageError(
                    f"{HARD_FILE}: commit index {state.commit} beyond the last entry "
                    f"{mirror.last_index()}"
                )
            mirror.set_hard_state(state)
        return cls(disk, mirror, log)

    # -- read side (the Storage protocol) -----------------------------------------------------

    def hard_state(self) -> HardState:
        return self._mirror.hard_state()

    def snapshot(self) -> Snapshot:
        return self._mirror.snapshot()

    def first_index(self) -> int:
        return self._mirror.first_index()

    def last_index(self) -> int:
        return self._mirror.last_index()

    def term(self, index: int) -> int:
        return self._mirror.term(index)

    def entries(self, lo: int, hi: int) -> list[Entry]:
        return self._mirror.entries(lo, hi)

    # -- write side ---------------------------------------------------------------------------

    def persist(
        self,
        hard_state: HardState | None,
        entries: Sequence[Entry],
        snapshot: Snapshot | None,
    ) -> None:
        """Write one Ready's snapshot, entries and hard state (durable at the next sync)."""
        if snapshot is not None:
            self._mirror.apply_snapshot(snapshot)
            self._write_snapshot_and_log(snapshot, [])
        if entries:
            self._append(entries)
        if hard_state is not None:
            self._mirror.set_hard_state(hard_state)
            body = {"term": hard_state.term, "vote": hard_state.vote, "commit": hard_state.commit}
            write_state(self.disk, HARD_FILE, body)

    def compact(self, snapshot: Snapshot) -> None:
        """Replace the log up to ``snapshot.index`` by ``snapshot`` (durable at the next sync)."""
        if snapshot.index <= self._mirror.snapshot().index:
            return
        self._mirror.compact(snapshot)
        rest = self._mirror.entries(self.first_index(), self.last_index() + 1)
        self._write_snapshot_and_log(snapshot, rest)

    def _append(self, entries: Sequence[Entry]) -> None:
        offset = self._mirror.snapshot().index
        batch = [e for e in entries if e.index > offset]
        if not batch:
            return
        self._mirror.append(batch)  # validates: no gap, contiguous
        keep = batch[0].index - offset - 1
        self._log.truncate(keep)
        for entry in batch:
            self._log.append(encode_entry(entry))

    def _write_snapshot_and_log(self, snapshot: Snapshot, entries: list[Entry]) -> None:
        write_state(self.disk, SNAP_FILE, _snapshot_to_json(snapshot))
        self._log = RecordLog.rewrite(self.disk, LOG_FILE, (encode_entry(e) for e in entries))


class DiskRecoveryMark:
    """The recovery mark on a simulated disk (see :mod:`archlab.consensus.raft.recovery`)."""

    def __init__(self, disk: Disk, recovering: bool) -> None:
        self.disk = disk
        self._recovering = recovering

    @staticmethod
    def provision(disk: Disk) -> None:
        """A new disk: its node has lost nothing."""
        write_state(disk, RECOVERY_FILE, {"recovering": False})

    @classmethod
    def open(cls, disk: Disk) -> DiskRecoveryMark:
        """Read the mark; a disk without one was wiped, so mark it recovering."""
        body = read_state(disk, RECOVERY_FILE)
        if body is not None:
            return cls(disk, bool(body["recovering"]))
        write_state(disk, RECOVERY_FILE, {"recovering": True})
        return cls(disk, True)

    @property
    def recovering(self) -> bool:
        return self._recovering

    def recovered(self) -> None:
        self._recovering = False
        write_state(self.disk, RECOVERY_FILE, {"recovering": False})
