"""A partition as the broker sees it: the log, its producers' state and its watermarks.

Produce verifies each batch (magic 2, CRC-32C), checks idempotent sequences, assigns offsets
and appends; a transactional batch opens a transaction at its offset. Fetch returns a slice
of stored bytes (sent with ``sendfile`` by the host) up to the high watermark, or up to the
last stable offset for ``read_committed``, with the aborted transactions in that range.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archlab.streaming.broker.producers import AbortedTxn, ProducerStates
from archlab.streaming.log.partition import LogConfig, LogSlice, PartitionLog
from archlab.streaming.log.records import (
    CorruptBatchError,
    control_batch,
    control_type,
    decode_batch,
    iter_batches,
    verify,
)
from archlab.streaming.protocol import errors


@dataclass(frozen=True)
class ProduceResult:
    error: int
    base_offset: int = -1
    message: str | None = None


@dataclass(frozen=True)
class FetchResult:
    error: int
    high_watermark: int
    last_stable_offset: int
    log_start_offset: int
    records: LogSlice | None
    aborted: list[AbortedTxn]


class Partition:
    def __init__(
        self, topic: str, index: int, directory: Path, config: LogConfig, now_ms: int
    ) -> None:
        self.topic = topic
        self.index = index
        self.log = PartitionLog(directory, config, now_ms)
        self.producers = ProducerStates()
        self.leader_epoch = 0
        self._replay()
        self.high_watermark = self.log.log_end_offset

    def _replay(self) -> None:
        """Rebuild producer state and the aborted index from the stored batch headers."""
        for seg in self.log.segments:
            for position, h in seg.batches():
                if h.producer_id < 0:
                    continue
                if h.control:
                    batch = decode_batch(seg.read(position, h.size))
                    commit = control_type(batch) == 1
                    self.producers.complete(h.producer_id, h.producer_epoch, commit, h.base_offset)
                else:
                    self.producers.record(
                        h.producer_id,
                        h.producer_epoch,
                        h.base_sequence,
                        h.last_sequence,
                        h.base_offset,
                        h.last_offset,
                        h.transactional,
                    )

    @property
    def last_stable_offset(self) -> int:
        first = self.producers.first_unstable_offset()
        return self.high_watermark if first is None else min(first, self.high_watermark)

    def produce(  # noqa: PLR0911 - one early return per rejection reason
        self, records: bytes, now_ms: int, txn_allowed: bool = True
    ) -> ProduceResult:
        batches = list(iter_batches(records))
        covered = sum(h.size for _, h in batches)
        if not batches or covered != len(records):
            try:
                verify(records, covered)
            except CorruptBatchError as exc:
                return ProduceResult(errors.CORRUPT_MESSAGE, message=str(exc))
            return ProduceResult(errors.CORRUPT_MESSAGE, message="no record batch")
        first_offset = -1
        for position, h in batches:
            if h.control:
                return ProduceResult(errors.INVALID_REQUEST, message="clients may not send markers")
            if h.transactional and not txn_allowed:
                return ProduceResult(errors.INVALID_TXN_STATE, message="partition not in the txn")
            data = records[position : position + h.size]
            if h.producer_id >= 0 and h.base_sequence >= 0:
                check = self.producers.check(
                    h.producer_id, h.producer_epoch, h.base_sequence, h.last_sequence
                )
                if check.error:
                    return ProduceResult(check.error)
                if check.duplicate_of is not None:
                    first_offset = (
                        first_offset if first_offset >= 0 else check.duplicate_of.base_offset
                    )
                    continue
            elif h.producer_id >= 0:
                err = self.producers.check_epoch(h.producer_id, h.producer_epoch)
                if err:
                    return ProduceResult(err)
            base, last = self.log.append(data, now_ms, self.leader_epoch, verified=h)
            if h.producer_id >= 0:
                self.producers.record(
                    h.producer_id,
                    h.producer_epoch,
                    h.base_sequence,
                    h.last_sequence,
                    base,
                    last,
                    h.transactional,
                )
            first_offset = base if first_offset < 0 else first_offset
        return ProduceResult(errors.NONE, first_offset)

    def write_marker(
        self, pid: int, epoch: int, commit: bool, now_ms: int, coordinator_epoch: int = 0
    ) -> int:
        data = control_batch(commit, pid, epoch, now_ms, coordinator_epoch).encode()
        base, _ = self.log.append(data, now_ms, self.leader_epoch)
        self.producers.complete(pid, epoch, commit, base)
        return base

    def fetch(self, offset: int, max_bytes: int, read_committed: bool) -> FetchResult:
        limit = self.last_stable_offset if read_committed else self.high_watermark
        start = self.log.log_start_offset
        if offset < start or offset > self.log.log_end_offset:
            return FetchResult(
                errors.OFFSET_OUT_OF_RANGE,
                self.high_watermark,
                self.last_stable_offset,
                start,
                None,
                [],
            )
        data = self.log.read(offset, max_bytes) if offset < limit else None
        if data is not None:
            data = self._clip(data, limit)
        aborted = self.producers.aborted_in(offset, limit) if read_committed and data else []
        return FetchResult(
            errors.NONE, self.high_watermark, self.last_stable_offset, start, data, aborted
        )

    def _clip(self, data: LogSlice, limit: int) -> LogSlice | None:
        """Cut a slice where offset ``limit`` (not yet visible) begins."""
        seg = next(s for s in self.log.segments if s.path == data.path)
        if limit >= seg.next_offset:
            return data
        cut = seg.position_of(limit)
        if cut is None or cut >= data.position + data.length:
            return data
        if cut <= data.position:
            return None
        return LogSlice(data.fd, data.path, data.position, cut - data.position)

    def commit_high_watermark(self) -> None:
        """Single-replica partition: everything appended is committed."""
        self.high_watermark = self.log.log_end_offset
