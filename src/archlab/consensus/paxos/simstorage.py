"""Multi-Paxos's durable storage on the simulator's disk: a crash keeps what was synced (codex 5.3).

:class:`DiskPaxosStorage` implements :class:`~archlab.consensus.paxos.PaxosStorage` over a
:class:`~archlab.sim.disk.Disk`, in three files:

- ``paxos.member``: written once, when the cluster is created: a disk without it was wiped,
  and its node rejoins as a non-voting learner (:attr:`DiskPaxosStorage.voter`);
- ``paxos.promised``: the promised ballot, one checksummed record replaced atomically
  (:func:`~archlab.sim.records.write_state`);
- ``paxos.snap``: the latest snapshot (its slot and the state machine's bytes), replaced
  atomically;
- ``paxos.log``: slot records, one checksummed frame each
  (:class:`~archlab.sim.records.RecordLog`): a slot accepted and then learned chosen is written
  twice, and the last record of a slot wins when the log is read back. Taking or installing a
  snapshot rewrites the log with only the slots after it, under a new file renamed over the
  old one, so the snapshot and the log change together at the next sync.

Writes are volatile until the host syncs the disk (the ``SyncStorage`` action), so a crash
loses exactly the unsynced tail; a torn last record is cut off by its checksum. Reads are served
from an in-memory mirror rebuilt by :meth:`DiskPaxosStorage.open`.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence

from archlab.consensus.paxos.storage import MemoryPaxosStorage
from archlab.consensus.paxos.types import Ballot, Slot, Snapshot
from archlab.consensus.simdisk import DiskMirror
from archlab.sim.records import Files, RecordLog, read_state, write_state

MEMBER_FILE = "paxos.member"
PROMISED_FILE = "paxos.promised"
SNAP_FILE = "paxos.snap"
LOG_FILE = "paxos.log"
_HEADER = struct.Struct(">QQQB")


def encode_slot(slot: Slot) -> bytes:
    header = _HEADER.pack(slot.index, slot.ballot.round, slot.ballot.node, int(slot.chosen))
    return header + slot.value


def decode_slot(record: bytes) -> Slot:
    index, round_, node, chosen = _HEADER.unpack_from(record)
    return Slot(index, Ballot(round_, node), record[_HEADER.size :], bool(chosen))


class DiskPaxosStorage(DiskMirror[MemoryPaxosStorage]):
    """A Multi-Paxos storage whose durability is the simulated disk's."""

    member_file = MEMBER_FILE

    @classmethod
    def open(cls, disk: Files) -> DiskPaxosStorage:
        mirror = MemoryPaxosStorage()
        snap = read_state(disk, SNAP_FILE)
        if snap is not None:
            mirror.persist(None, (), Snapshot(int(snap["index"]), base64.b64decode(snap["data"])))
        log = RecordLog.open(disk, LOG_FILE)
        mirror.persist(None, [decode_slot(r) for r in log.records], None)
        promised = read_state(disk, PROMISED_FILE)
        if promised is not None:
            mirror.persist(Ballot(int(promised["round"]), int(promised["node"])), (), None)
        mirror.syncs = 0
        return cls(disk, mirror, log)

    # -- read side ------------------------------------------------------------------------

    def promised(self) -> Ballot:
        return self._mirror.promised()

    def snapshot(self) -> Snapshot:
        return self._mirror.snapshot()

    def slots(self) -> list[Slot]:
        return self._mirror.slots()

    def slot(self, index: int) -> Slot | None:
        return self._mirror.slot(index)

    # -- write side -----------------------------------------------------------------------

    def persist(
        self, promised: Ballot | None, slots: Sequence[Slot], snapshot: Snapshot | None
    ) -> None:
        self._mirror.persist(promised, slots, snapshot)
        if snapshot is not None:
            self._rewrite(snapshot)
        else:
            for slot in slots:
                self._log.append(encode_slot(slot))
        if promised is not None:
            write_state(self.disk, PROMISED_FILE, {"round": promised.round, "node": promised.node})

    def compact(self, snapshot: Snapshot) -> None:
        if snapshot.index <= self._mirror.snapshot().index:
            return
        self._mirror.compact(snapshot)
        self._rewrite(snapshot)

    def _rewrite(self, snapshot: Snapshot) -> None:
        body = {"index": snapshot.index, "data": base64.b64encode(snapshot.data).decode("ascii")}
        write_state(self.disk, SNAP_FILE, body)
        records = (encode_slot(s) for s in self._mirror.slots())
        self._log = RecordLog.rewrite(self.disk, LOG_FILE, records)
