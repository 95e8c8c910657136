"""Idempotent producers and open transactions, per partition (codex 7.1: exactly-once).

Each producer id has an epoch and, per partition, the sequence number of its last batch. A
batch is appended only if its first sequence follows the last one; a retry of any of the last
five batches is answered with the offsets it was first stored at (nothing is appended twice);
a gap is rejected with OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is fenced.

Transactional batches open a transaction at their first offset; the last stable offset (LSO)
is the lowest first offset of any open transaction (else the high watermark). A marker closes
it; an ABORT marker adds ``(pid, first offset, marker offset)`` to the aborted index that
``read_committed`` fetches return so the client can drop those records. The state is rebuilt
after a restart by replaying the batch headers of the log.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from archlab.streaming.protocol import errors

#: Kafka keeps the metadata of the last five batches per producer for duplicate detection.
DEDUP_WINDOW = 5


@dataclass(frozen=True)
class BatchMeta:
    first_seq: int
    last_seq: int
    base_offset: int
    last_offset: int


@dataclass
class ProducerEntry:
    epoch: int
    batches: deque[BatchMeta] = field(default_factory=lambda: deque(maxlen=DEDUP_WINDOW))
    txn_first_offset: int | None = None

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else -1


@dataclass(frozen=True)
class AbortedTxn:
    producer_id: int
    first_offset: int
    last_offset: int


@dataclass(frozen=True)
class SequenceCheck:
    error: int
    duplicate_of: BatchMeta | None = None


class ProducerStates:
    def __init__(self) -> None:
        self.entries: dict[int, ProducerEntry] = {}
        self.aborted: list[AbortedTxn] = []

    def check(  # noqa: PLR0911 - one return per outcome of the sequence rules
        self, pid: int, epoch: int, first_seq: int, last_seq: int
    ) -> SequenceCheck:
        """May this batch be appended? (Nothing changes until :meth:`record`.)"""
        entry = self.entries.get(pid)
        if entry is None or epoch > entry.epoch:
            # a new producer or a new epoch starts its sequences at 0
            if first_seq != 0 and entry is not None:
                return SequenceCheck(errors.OUT_OF_ORDER_SEQUENCE_NUMBER)
            if first_seq != 0:
                return SequenceCheck(errors.UNKNOWN_PRODUCER_ID)
            return SequenceCheck(errors.NONE)
        if epoch < entry.epoch:
            return SequenceCheck(errors.INVALID_PRODUCER_EPOCH)
        for meta in entry.batches:
            if meta.first_seq == first_seq and meta.last_seq == last_seq:
                return SequenceCheck(errors.NONE, duplicate_of=meta)
        if first_seq != (entry.last_seq + 1) & 0x7FFFFFFF:
            return SequenceCheck(errors.OUT_OF_ORDER_SEQUENCE_NUMBER)
        return SequenceCheck(errors.NONE)

    def check_epoch(self, pid: int, epoch: int) -> int:
        entry = self.entries.get(pid)
        if entry is not None and epoch < entry.epoch:
            return errors.INVALID_PRODUCER_EPOCH
        return errors.NONE

    def record(
        self,
        pid: int,
        epoch: int,
        first_seq: int,
        last_seq: int,
        base_offset: int,
        last_offset: int,
        transactional: bool,
    ) -> None:
        entry = self.entries.get(pid)
        if entry is None or epoch > entry.epoch:
            entry = ProducerEntry(epoch, txn_first_offset=entry.txn_first_offset if entry else None)
            self.entries[pid] = entry
        if first_seq >= 0:
            entry.batches.append(BatchMeta(first_seq, last_seq, base_offset, last_offset))
        if transactional and entry.txn_first_offset is None:
            entry.txn_first_offset = base_offset

    def complete(self, pid: int, epoch: int, commit: bool, marker_offset: int) -> None:
        """A COMMIT or ABORT marker was appended at ``marker_offset``."""
        entry = self.entries.setdefault(pid, ProducerEntry(epoch))
        entry.epoch = max(entry.epoch, epoch)
        first = entry.txn_first_offset
        entry.txn_first_offset = None
        if not commit and first is not None:
            self.aborted.append(AbortedTxn(pid, first, marker_offset))

    def first_unstable_offset(self) -> int | None:
        opened = [
            e.txn_first_offset for e in self.entries.values() if e.txn_first_offset is not None
        ]
        return min(opened) if opened else None

    def aborted_in(self, start: int, end: int) -> list[AbortedTxn]:
        """Aborted transactions that overlap offsets [start, end)."""
        return [a for a in self.aborted if a.first_offset < end and a.last_offset >= start]

    def truncate(self, offset: int) -> None:
        """Forget what lies at or after ``offset`` (replica truncation, segment loss)."""
        self.aborted = [a for a in self.aborted if a.last_offset < offset]
        for entry in self.entries.values():
            while entry.batches and entry.batches[-1].base_offset >= offset:
                entry.batches.pop()
            if entry.txn_first_offset is not None and entry.txn_first_offset >= offset:
                entry.txn_first_offset = None
