"""Zab's durable storage on the simulator's disk: a crash keeps what was synced (codex 5.3).

:class:`DiskZabStorage` implements :class:`~archlab.consensus.zab.ZabStorage` over a
:class:`~archlab.sim.disk.Disk`, in three files:

- ``zab.member``: written once, when the cluster is created: a disk without it was wiped, and
  its node rejoins as an observer (:attr:`DiskZabStorage.voter`);
- ``zab.epochs``: the accepted and current epochs, one checksummed record replaced atomically;
- ``zab.snap``: the latest snapshot (zxid, length, epoch segments, state machine bytes),
  replaced atomically;
- ``zab.log``: the transactions after the snapshot, one checksummed frame each; a TRUNC cuts
  the file, and installing or taking a snapshot rewrites it under a new file renamed over the
  old one, so snapshot and log change together at the next sync.

Writes are volatile until the host syncs the disk; a torn last record is cut off by its
checksum. Reads come from an in-memory mirror rebuilt by :meth:`DiskZabStorage.open`.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from typing import Any

from archlab.consensus.simdisk import DiskMirror
from archlab.consensus.zab.storage import MemoryZabStorage
from archlab.consensus.zab.types import HardState, Snapshot, Txn, Zxid
from archlab.errors import ArchlabError
from archlab.sim.records import Files, RecordLog, read_state, write_state

MEMBER_FILE = "zab.member"
EPOCHS_FILE = "zab.epochs"
SNAP_FILE = "zab.snap"
LOG_FILE = "zab.log"
_HEADER = struct.Struct(">QQ")


class CorruptStorageError(ArchlabError):
    """The files on a node's disk do not form a valid Zab history."""


def encode_txn(txn: Txn) -> bytes:
    return _HEADER.pack(txn.zxid.epoch, txn.zxid.counter) + txn.data


def decode_txn(record: bytes) -> Txn:
    epoch, counter = _HEADER.unpack_from(record)
    return Txn(Zxid(epoch, counter), record[_HEADER.size :])


def _snapshot_to_json(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "zxid": [snapshot.zxid.epoch, snapshot.zxid.counter],
        "length": snapshot.length,
        "segments": [list(s) for s in snapshot.segments],
        "data": base64.b64encode(snapshot.data).decode("ascii"),
    }


def _snapshot_from_json(body: dict[str, Any]) -> Snapshot:
    segments = tuple((int(e), int(c)) for e, c in body["segments"])
    zxid = Zxid(int(body["zxid"][0]), int(body["zxid"][1]))
    return Snapshot(zxid, int(body["length"]), segments, base64.b64decode(body["data"]))


class DiskZabStorage(DiskMirror[MemoryZabStorage]):
    """A Zab storage whose durability is the simulated disk's."""

    member_file = MEMBER_FILE

    @classmethod
    def open(cls, disk: Files) -> DiskZabStorage:
        mirror = MemoryZabStorage()
        snap = read_state(disk, SNAP_FILE)
        snapshot = _snapshot_from_json(snap) if snap is not None else None
        log = RecordLog.open(disk, LOG_FILE)
        txns = [decode_txn(r) for r in log.records]
        last = snapshot.zxid if snapshot is not None else Zxid()
        for txn in txns:
            if txn.zxid <= last:
                raise CorruptStorageError(f"{LOG_FILE}: {txn.zxid} after {last}")
            last = txn.zxid
        start = (snapshot.length if snapshot is not None else 0) + 1
        mirror.persist(None, snapshot, start, txns)
        epochs = read_state(disk, EPOCHS_FILE)
        if epochs is not None:
            hard = HardState(int(epochs["accepted"]), int(epochs["current"]))
            mirror.persist(hard, None, None, ())
        mirror.syncs = 0
        return cls(disk, mirror, log)

    def hard_state(self) -> HardState:
        return self._mirror.hard_state()

    def snapshot(self) -> Snapshot:
        return self._mirror.snapshot()

    def txns(self) -> list[Txn]:
        return self._mirror.txns()

    @property
    def length(self) -> int:
        return self._mirror.length

    def persist(
        self,
        hard_state: HardState | None,
        snapshot: Snapshot | None,
        history_from: int | None,
        txns: Sequence[Txn],
    ) -> None:
        self._mirror.persist(hard_state, snapshot, history_from, txns)
        if snapshot is not None:
            self._rewrite()
        elif history_from is not None:
            self._log.truncate(history_from - 1 - self._mirror.snapshot().length)
            for txn in txns:
                self._log.append(encode_txn(txn))
        if hard_state is not None:
            body = {"accepted": hard_state.accepted_epoch, "current": hard_state.current_epoch}
            write_state(self.disk, EPOCHS_FILE, body)

    def compact(self, snapshot: Snapshot) -> None:
        if snapshot.length <= self._mirror.snapshot().length:
            return
        self._mirror.compact(snapshot)
        self._rewrite()

    def _rewrite(self) -> None:
        write_state(self.disk, SNAP_FILE, _snapshot_to_json(self._mirror.snapshot()))
        records = (encode_txn(t) for t in self._mirror.txns())
        self._log = RecordLog.rewrite(self.disk, LOG_FILE, records)
