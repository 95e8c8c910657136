"""The transaction coordinator (codex 7.1: exactly-once across partitions).

A transactional id maps to a producer id and an epoch. ``InitProducerId`` bumps the epoch,
which *fences* any older instance of the same producer (its requests now fail with
PRODUCER_FENCED) and aborts whatever transaction it left open. A transaction records the
partitions it wrote to (``AddPartitionsToTxn``) and the groups whose offsets it commits
(``AddOffsetsToTxn`` / ``TxnOffsetCommit``); ``EndTxn`` first logs PrepareCommit or
PrepareAbort, then writes a COMMIT or ABORT marker to every one of those partitions, applies
the offsets on commit, and logs the completion. Every state change is a record in the
coordinator's own log (``__transaction_state``), replayed after a restart; a transaction found
in a Prepare state is completed then, and one left open past its timeout is aborted by
:meth:`TransactionCoordinator.tick`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from archlab.streaming.log.partition import PartitionLog
from archlab.streaming.log.records import make_batch
from archlab.streaming.protocol import errors

EMPTY, ONGOING, PREPARE_COMMIT, PREPARE_ABORT = "Empty", "Ongoing", "PrepareCommit", "PrepareAbort"
COMPLETE_COMMIT, COMPLETE_ABORT = "CompleteCommit", "CompleteAbort"
MAX_TIMEOUT_MS = 15 * 60 * 1000
_PID_BLOCK = 1000

MarkerWriter = Callable[[str, int, int, int, bool], int]  # topic, partition, pid, epoch, commit
OffsetCommitter = Callable[[str, list[tuple[str, int, int, str | None]]], None]


@dataclass
class TxnState:
    producer_id: int
    epoch: int
    timeout_ms: int
    state: str = EMPTY
    partitions: set[tuple[str, int]] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    offsets: dict[str, list[tuple[str, int, int, str | None]]] = field(default_factory=dict)
    started_ms: int = 0


class ProducerIds:
    """Producer ids from blocks reserved in a file, so none is reused after a restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.next = int(path.read_text()) if path.exists() else 1000
        self.limit = self.next

    def allocate(self) -> int:
        if self.next >= self.limit:
            self.limit = self.next + _PID_BLOCK
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(str(self.limit))
            tmp.replace(self.path)
        self.next += 1
        return self.next - 1


class TransactionCoordinator:
    def __init__(
        self,
        log: PartitionLog,
        pids: ProducerIds,
        write_marker: MarkerWriter,
        commit_offsets: OffsetCommitter,
        now_ms: int,
    ) -> None:
        self.log = log
        self.pids = pids
        self.write_marker = write_marker
        self.commit_offsets = commit_offsets
        self.txns: dict[str, TxnState] = {}
        for batch in log.batches():
            for r in batch.records:
                if r.key is not None and r.value is not None:
                    self.txns[r.key.decode()] = _decode(r.value)
        for txn_id, t in self.txns.items():
            if t.state in (PREPARE_COMMIT, PREPARE_ABORT):
                self._complete(txn_id, t, now_ms)

    def _persist(self, txn_id: str, t: TxnState, now_ms: int) -> None:
        value = json.dumps(
            {
                "pid": t.producer_id,
                "epoch": t.epoch,
                "timeout": t.timeout_ms,
                "state": t.state,
                "partitions": sorted(t.partitions),
                "groups": sorted(t.groups),
                "offsets": t.offsets,
                "started": t.started_ms,
            }
        ).encode()
        self.log.append(
            make_batch([value], keys=[txn_id.encode()], timestamp=now_ms).encode(), now_ms
        )

    # -- requests --------------------------------------------------------------------------

    def init_producer_id(
        self, txn_id: str | None, timeout_ms: int, now_ms: int
    ) -> tuple[int, int, int]:
        """(error, producer id, epoch)."""
        if txn_id is None:
            return errors.NONE, self.pids.allocate(), 0
        if not 0 < timeout_ms <= MAX_TIMEOUT_MS:
            return errors.INVALID_TRANSACTION_TIMEOUT, -1, -1
        t = self.txns.get(txn_id)
        if t is None:
            t = TxnState(self.pids.allocate(), -1, timeout_ms)
            self.txns[txn_id] = t
        elif t.state == ONGOING:
            t.state = PREPARE_ABORT  # the previous instance's transaction dies with it
            self._persist(txn_id, t, now_ms)
            self._complete(txn_id, t, now_ms)
        if t.epoch >= 32766:
            t.producer_id, t.epoch = self.pids.allocate(), -1
        t.epoch += 1
        t.timeout_ms, t.state = timeout_ms, EMPTY
        self._persist(txn_id, t, now_ms)
        return errors.NONE, t.producer_id, t.epoch

    def _check(self, txn_id: str, pid: int, epoch: int) -> tuple[int, TxnState | None]:
        t = self.txns.get(txn_id)
        if t is None or t.producer_id != pid:
            return errors.INVALID_PRODUCER_ID_MAPPING, None
        if epoch != t.epoch:
            return errors.PRODUCER_FENCED, None
        if t.state in (PREPARE_COMMIT, PREPARE_ABORT):
            return errors.CONCURRENT_TRANSACTIONS, None
        return errors.NONE, t

    def add_partitions(
        self, txn_id: str, pid: int, epoch: int, parts: list[tuple[str, int]], now_ms: int
    ) -> int:
        err, t = self._check(txn_id, pid, epoch)
        if t is None:
            return err
        if t.state != ONGOING:
            t.state, t.started_ms = ONGOING, now_ms
        t.partitions.update(parts)
        self._persist(txn_id, t, now_ms)
        return errors.NONE

    def add_offsets(self, txn_id: str, pid: int, epoch: int, group_id: str, now_ms: int) -> int:
        err, t = self._check(txn_id, pid, epoch)
        if t is None:
            return err
        if t.state != ONGOING:
            t.state, t.started_ms = ONGOING, now_ms
        t.groups.add(group_id)
        self._persist(txn_id, t, now_ms)
        return errors.NONE

    def txn_offset_commit(
        self,
        txn_id: str,
        pid: int,
        epoch: int,
        group_id: str,
        offsets: list[tuple[str, int, int, str | None]],
        now_ms: int,
    ) -> int:
        err, t = self._check(txn_id, pid, epoch)
        if t is None:
            return err
        if group_id not in t.groups:
            return errors.INVALID_TXN_STATE
        t.offsets.setdefault(group_id, []).extend(offsets)
        self._persist(txn_id, t, now_ms)
        return errors.NONE

    def in_transaction(self, pid: int, topic: str, partition: int) -> bool:
        return any(
            t.producer_id == pid and t.state == ONGOING and (topic, partition) in t.partitions
            for t in self.txns.values()
        )

    def end_txn(self, txn_id: str, pid: int, epoch: int, commit: bool, now_ms: int) -> int:
        err, t = self._check(txn_id, pid, epoch)
        if t is None:
            return err
        if t.state in (EMPTY, COMPLETE_COMMIT, COMPLETE_ABORT):
            # nothing was added: a no-op transaction; a retried EndTxn after completion is fine
            done = COMPLETE_COMMIT if commit else COMPLETE_ABORT
            return errors.NONE if t.state in (EMPTY, done) else errors.INVALID_TXN_STATE
        t.state = PREPARE_COMMIT if commit else PREPARE_ABORT
        self._persist(txn_id, t, now_ms)
        self._complete(txn_id, t, now_ms)
        return errors.NONE

    def _complete(self, txn_id: str, t: TxnState, now_ms: int) -> None:
        commit = t.state == PREPARE_COMMIT
        for topic, partition in sorted(t.partitions):
            self.write_marker(topic, partition, t.producer_id, t.epoch, commit)
        if commit:
            for group_id, offsets in t.offsets.items():
                self.commit_offsets(group_id, offsets)
        t.state = COMPLETE_COMMIT if commit else COMPLETE_ABORT
        t.partitions, t.groups, t.offsets = set(), set(), {}
        self._persist(txn_id, t, now_ms)

    def tick(self, now_ms: int) -> list[str]:
        """Abort transactions open longer than their timeout, fencing their producer."""
        expired = [
            txn_id
            for txn_id, t in self.txns.items()
            if t.state == ONGOING and now_ms - t.started_ms > t.timeout_ms
        ]
        for txn_id in expired:
            t = self.txns[txn_id]
            t.state = PREPARE_ABORT
            self._persist(txn_id, t, now_ms)
            self._complete(txn_id, t, now_ms)
            t.epoch += 1  # the timed-out producer is fenced
            self._persist(txn_id, t, now_ms)
        return expired


def _decode(value: bytes) -> TxnState:
    d = json.loads(value)
    return TxnState(
        d["pid"],
        d["epoch"],
        d["timeout"],
        d["state"],
        {(p[0], p[1]) for p in d["partitions"]},
        set(d["groups"]),
        {g: [tuple(o) for o in offs] for g, offs in d["offsets"].items()},
        d["started"],
    )
