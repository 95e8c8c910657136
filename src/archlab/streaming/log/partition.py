"""A partition's log: segments rolled by size and time, retention, compaction (codex 7.1).

The log is a directory of segments (see :mod:`archlab.streaming.log.segment`); only the last
one is appended to. The leader assigns offsets by rewriting each batch's ``baseOffset`` (not
covered by the CRC) and appends the producer's bytes unchanged, so a fetch can hand the stored
bytes to the socket with ``sendfile``. Opening a log recovers it: the active segment is
scanned, every batch's CRC checked, the indexes rebuilt and a damaged tail cut and reported in
:attr:`PartitionLog.recoveries`. The clock is injected (``now_ms`` arguments); durability is
an fsync every ``flush_messages`` batches or ``flush_ms`` milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from archlab.streaming.log.records import (
    BatchHeader,
    CorruptBatchError,
    Record,
    RecordBatch,
    decode_batch,
    iter_batches,
    verify,
    with_offset,
)
from archlab.streaming.log.segment import Recovery, Segment


@dataclass(frozen=True)
class LogConfig:
    segment_bytes: int = 64 * 2**20
    segment_ms: int = 7 * 24 * 3600 * 1000
    index_interval_bytes: int = 4096
    retention_bytes: int = -1  # -1: unbounded
    retention_ms: int = 7 * 24 * 3600 * 1000  # -1: unbounded
    flush_messages: int = 1  # fsync after this many appended batches (0: leave it to the OS)
    flush_ms: int = -1
    compact: bool = False


@dataclass(frozen=True)
class LogSlice:
    """Stored bytes ready to send: ``length`` bytes of ``path`` from ``position``."""

    fd: int
    path: Path
    position: int
    length: int


class PartitionLog:
    def __init__(self, directory: Path, config: LogConfig | None = None, now_ms: int = 0) -> None:
        self.dir = directory
        self.config = config or LogConfig()
        directory.mkdir(parents=True, exist_ok=True)
        self.recoveries: list[Recovery] = []
        self.segments: list[Segment] = []
        self._unflushed = 0
        self._last_flush_ms = now_ms
        for path in sorted(directory.glob("*.log")):
            try:
                base = int(path.stem)
            except ValueError:
                continue
            self.segments.append(Segment(directory, base, self.config.index_interval_bytes))
        for seg in self.segments[:-1]:
            if not seg.load_indexes(now_ms):
                self._recover(seg, now_ms)
        if self.segments:
            self._recover(self.segments[-1], now_ms)
        else:
            self.segments.append(Segment(directory, 0, self.config.index_interval_bytes))
            self.segments[0].created_ms = now_ms

    def _recover(self, seg: Segment, now_ms: int) -> None:
        report = seg.recover(now_ms)
        if report is not None:
            self.recoveries.append(report)

    # -- offsets ---------------------------------------------------------------------------

    @property
    def log_start_offset(self) -> int:
        return self.segments[0].base_offset

    @property
    def log_end_offset(self) -> int:
        return self.segments[-1].next_offset

    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self.segments)

    # -- appending -------------------------------------------------------------------------

    def append(
        self,
        data: bytes,
        now_ms: int,
        leader_epoch: int | None = None,
        verified: BatchHeader | None = None,
    ) -> tuple[int, int]:
        """Append a producer's batch at the log end; returns (base offset, last offset).

        The batch's CRC is checked here unless the caller passes the header it ``verified``.
        """
        h = verified if verified is not None else verify(data)
        if h.size != len(data):
            raise CorruptBatchError(f"batch length says {h.size} bytes, request holds {len(data)}")
        base = self.log_end_offset
        stored = with_offset(data, base, leader_epoch)
        self._append_stored(stored, now_ms, h, base)
        return base, base + h.last_offset_delta

    def append_replica(self, data: bytes, now_ms: int) -> None:
        """Append batches copied from a leader, offsets as assigned there."""
        pos = 0
        while pos < len(data):
            h = verify(data, pos)
            if h.base_offset < self.log_end_offset:
                raise ValueError(
                    f"replica batch at {h.base_offset} < log end {self.log_end_offset}"
                )
            self._append_stored(data[pos : pos + h.size], now_ms, h)
            pos += h.size

    def _append_stored(
        self, data: bytes, now_ms: int, h: BatchHeader, base_offset: int | None = None
    ) -> None:
        active = self.segments[-1]
        too_big = active.size > 0 and active.size + len(data) > self.config.segment_bytes
        too_old = (
            active.size > 0
            and active.created_ms is not None
            and now_ms - active.created_ms >= self.config.segment_ms
        )
        if too_big or too_old:
            self.roll(now_ms)
            active = self.segments[-1]
        active.append(data, h, now_ms, base_offset)
        self._unflushed += 1
        flush_n = self.config.flush_messages
        flush_ms = self.config.flush_ms
        if (flush_n > 0 and self._unflushed >= flush_n) or (
            flush_ms >= 0 and now_ms - self._last_flush_ms >= flush_ms
        ):
            self.flush(now_ms)

    def roll(self, now_ms: int) -> None:
        active = self.segments[-1]
        active.seal()
        new = Segment(self.dir, active.next_offset, self.config.index_interval_bytes)
        new.created_ms = now_ms
        self.segments.append(new)

    def close(self) -> None:
        self.segments[-1].seal()
        for seg in self.segments:
            seg.close()

    def maybe_flush(self, now_ms: int) -> None:
        """The time-based fsync policy, also when no append comes to trigger it."""
        ms = self.config.flush_ms
        if ms >= 0 and self._unflushed and now_ms - self._last_flush_ms >= ms:
            self.flush(now_ms)

    def flush(self, now_ms: int) -> None:
        self.segments[-1].flush()
        self._unflushed = 0
        self._last_flush_ms = now_ms

    # -- reading ---------------------------------------------------------------------------

    def read(self, offset: int, max_bytes: int) -> LogSlice | None:
        """Stored bytes from the batch holding ``offset``: up to ``max_bytes``, at least that batch.

        As in Kafka, the slice is cut by size, not at a batch boundary: its last batch may be
        partial (clients drop it and fetch it whole next time), so finding the end costs no
        scan of batch headers and the bytes go to the socket untouched.
        """
        if offset >= self.log_end_offset or offset < self.log_start_offset:
            return None
        for seg in self.segments:
            if seg.next_offset <= offset:
                continue
            position = seg.position_of(offset)
            if position is None:
                continue
            first = seg.header_at(position).size
            length = max(first, min(max_bytes, seg.size - position))
            return LogSlice(seg.fd, seg.path, position, length)
        return None

    def read_bytes(self, offset: int, max_bytes: int = 1 << 30) -> bytes:
        s = self.read(offset, max_bytes)
        if s is None:
            return b""
        seg = next(x for x in self.segments if x.path == s.path)
        return seg.read(s.position, s.length)

    def batches(self, start: int = 0) -> list[RecordBatch]:
        """Every batch from ``start`` on, decoded (tests and small tools)."""
        out: list[RecordBatch] = []
        offset = max(start, self.log_start_offset)
        while offset < self.log_end_offset:
            data = self.read_bytes(offset)
            decoded = [decode_batch(data, pos) for pos, _ in iter_batches(data)]
            if not decoded:
                break
            out += decoded
            offset = decoded[-1].last_offset + 1
        return [b for b in out if b.last_offset >= start]

    def offset_for_timestamp(self, timestamp: int) -> int | None:
        for seg in self.segments:
            if seg.max_timestamp >= timestamp:
                position = seg.position_for_timestamp(timestamp)
                if position is not None:
                    return seg.header_at(position).base_offset
        return None

    # -- truncation, retention, compaction --------------------------------------------------

    def truncate_to(self, offset: int) -> None:
        """Drop every batch whose base offset is at or past ``offset`` (replica truncation)."""
        while len(self.segments) > 1 and self.segments[-1].base_offset >= offset:
            self.segments.pop().delete()
        seg = self.segments[-1]
        for position, h in seg.batches():
            if h.base_offset >= offset:
                seg.truncate_at(position)
                break
        seg.flush()

    def enforce_retention(self, now_ms: int) -> list[str]:
        """Delete whole sealed segments past the size or time limit; returns their names."""
        deleted = []
        cfg = self.config
        while len(self.segments) > 1:
            oldest = self.segments[0]
            over_size = (
                cfg.retention_bytes >= 0 and self.size_bytes - oldest.size >= cfg.retention_bytes
            )
            over_time = cfg.retention_ms >= 0 and now_ms - oldest.max_timestamp > cfg.retention_ms
            if not (over_size or over_time):
                break
            deleted.append(oldest.path.name)
            self.segments.pop(0).delete()
        return deleted

    def compact(self, now_ms: int) -> int:
        """Keep only the latest record of each key in the sealed segments; returns records dropped.

        Offsets are preserved (a compacted log has gaps); records without a key and control
        batches are kept; a tombstone (null value) is kept so that readers see the delete.
        """
        latest: dict[bytes, int] = {}
        for batch in self.batches():
            if not batch.control:
                for r in batch.records:
                    if r.key is not None:
                        latest[r.key] = batch.base_offset + r.offset_delta
        dropped = 0
        for i, seg in enumerate(self.segments[:-1]):
            kept: list[bytes] = []
            for position, h in seg.batches():
                batch = decode_batch(seg.read(position, h.size))
                if batch.control:
                    kept.append(seg.read(position, h.size))
                    continue
                records = [
                    r
                    for r in batch.records
                    if r.key is None or latest.get(r.key) == batch.base_offset + r.offset_delta
                ]
                dropped += len(batch.records) - len(records)
                if records:
                    kept.append(_rebatch(batch, records))
            tmp = Path(str(seg.path) + ".cleaned")
            tmp.write_bytes(b"".join(kept))
            base = seg.base_offset
            seg.close()
            tmp.replace(seg.path)
            fresh = Segment(self.dir, base, self.config.index_interval_bytes)
            fresh.recover(now_ms)
            fresh.seal()
            self.segments[i] = fresh
        return dropped


def _rebatch(batch: RecordBatch, records: list[Record]) -> bytes:
    return replace(batch, records=records).encode()
