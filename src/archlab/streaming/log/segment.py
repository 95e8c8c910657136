"""One log segment and its two sparse indexes (codex 7.1: the log is append-only files).

A segment is ``<base offset, 20 digits>.log`` holding whole RecordBatch v2 batches back to
back, with ``.index`` (relative offset int32, file position int32: one entry every
``index_interval_bytes`` of log) and ``.timeindex`` (max timestamp int64, relative offset
int32). A lookup binary-searches the index for the last entry at or before the offset, then
scans batch headers forward from that position: the index stays small enough to keep in memory
while a read touches at most one interval of log.

The index files are written when the segment is sealed (rolled or closed). After a crash the
active segment's indexes are rebuilt by scanning it, and a segment whose index file is missing
or inconsistent is rebuilt the same way. :meth:`Segment.recover` also verifies every batch's
CRC and cuts the file at the first batch that is truncated or damaged, reporting what it cut.
"""

from __future__ import annotations

import bisect
import itertools
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from archlab.streaming.log.records import (
    HEADER_SIZE,
    BatchHeader,
    CorruptBatchError,
    read_header,
    verify,
)

_INDEX_ENTRY = struct.Struct(">ii")
_TIME_ENTRY = struct.Struct(">qi")


def segment_name(base_offset: int) -> str:
    return f"{base_offset:020d}"


@dataclass(frozen=True)
class Recovery:
    """What recovery cut from a segment's tail, and why."""

    segment: str
    valid_bytes: int
    truncated_bytes: int
    reason: str


class Segment:
    def __init__(self, directory: Path, base_offset: int, index_interval_bytes: int = 4096) -> None:
        self.base_offset = base_offset
        self.path = directory / f"{segment_name(base_offset)}.log"
        self.index_path = self.path.with_suffix(".index")
        self.time_index_path = self.path.with_suffix(".timeindex")
        self.index_interval_bytes = index_interval_bytes
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(self.fd).st_size
        self.index: list[tuple[int, int]] = []  # (relative offset, position)
        self.time_index: list[tuple[int, int]] = []  # (max timestamp, relative offset)
        self.next_offset = base_offset
        self.max_timestamp = -1
        self.created_ms: int | None = None
        self._bytes_since_entry = 0

    # -- writing ---------------------------------------------------------------------------

    def append(
        self, data: bytes, header: BatchHeader, now_ms: int, base_offset: int | None = None
    ) -> int:
        """Append one whole batch (whose offset may have been rewritten to ``base_offset``)."""
        position = self.size
        written = os.write(self.fd, data)
        if written != len(data):
            raise OSError(f"{self.path}: short write ({written} of {len(data)} bytes)")
        self._note(header, position, now_ms, base_offset)
        self.size += len(data)
        return position

    def _note(
        self, h: BatchHeader, position: int, now_ms: int, base_offset: int | None = None
    ) -> None:
        base = h.base_offset if base_offset is None else base_offset
        if self.created_ms is None:
            self.created_ms = now_ms
        if not self.index or self._bytes_since_entry >= self.index_interval_bytes:
            self.index.append((base - self.base_offset, position))
            self._bytes_since_entry = 0
        self._bytes_since_entry += h.size
        if h.max_timestamp > self.max_timestamp:
            self.max_timestamp = h.max_timestamp
            self.time_index.append((h.max_timestamp, base - self.base_offset))
        self.next_offset = base + h.last_offset_delta + 1

    def flush(self) -> None:
        os.fsync(self.fd)

    def seal(self) -> None:
        """Write both index files (the segment is no longer appended to)."""
        self.index_path.write_bytes(b"".join(_INDEX_ENTRY.pack(*e) for e in self.index))
        self.time_index_path.write_bytes(b"".join(_TIME_ENTRY.pack(*e) for e in self.time_index))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def delete(self) -> None:
        self.close()
        for p in (self.path, self.index_path, self.time_index_path):
            p.unlink(missing_ok=True)

    # -- reading ---------------------------------------------------------------------------

    def header_at(self, position: int) -> BatchHeader:
        return read_header(os.pread(self.fd, HEADER_SIZE, position))

    def position_of(self, offset: int) -> int | None:
        """Position of the batch holding ``offset`` (or the first after it); None past the end."""
        i = bisect.bisect_right(self.index, (offset - self.base_offset, 1 << 62)) - 1
        position = self.index[i][1] if i >= 0 else 0
        while position < self.size:
            h = self.header_at(position)
            if h.last_offset >= offset:
                return position
            position += h.size
        return None

    def position_for_timestamp(self, timestamp: int) -> int | None:
        """Position of the first batch whose max timestamp is at least ``timestamp``."""
        i = bisect.bisect_left([t for t, _ in self.time_index], timestamp)
        if i >= len(self.time_index):
            return None
        position = self.position_of(self.base_offset + self.time_index[i][1])
        while position is not None and position < self.size:
            h = self.header_at(position)
            if h.max_timestamp >= timestamp:
                return position
            position += h.size
        return None

    def read(self, position: int, length: int) -> bytes:
        return os.pread(self.fd, length, position)

    def batches(self) -> list[tuple[int, BatchHeader]]:
        out = []
        position = 0
        while position < self.size:
            h = self.header_at(position)
            out.append((position, h))
            position += h.size
        return out

    # -- recovery --------------------------------------------------------------------------

    def recover(self, now_ms: int) -> Recovery | None:
        """Verify every batch, rebuild the indexes, and cut a damaged tail."""
        self.index, self.time_index = [], []
        self.max_timestamp, self._bytes_since_entry = -1, 0
        self.next_offset = self.base_offset
        data = self.read(0, self.size)
        position = 0
        reason = ""
        while position < len(data):
            try:
                h = verify(data, position)
            except CorruptBatchError as exc:
                reason = str(exc)
                break
            self._note(h, position, now_ms)
            position += h.size
        if position == len(data):
            return None
        os.ftruncate(self.fd, position)
        os.fsync(self.fd)
        cut = len(data) - position
        self.size = position
        return Recovery(self.path.name, position, cut, reason)

    def load_indexes(self, now_ms: int) -> bool:
        """Load the sealed index files; False (and nothing loaded) if they are unusable."""
        try:
            raw = self.index_path.read_bytes()
            raw_time = self.time_index_path.read_bytes()
        except OSError:
            return False
        if len(raw) % 8 or len(raw_time) % 12 or (self.size and not raw):
            return False
        index = [_INDEX_ENTRY.unpack_from(raw, i) for i in range(0, len(raw), 8)]
        if any(b <= a for a, b in itertools.pairwise(index)) or (
            index and index[-1][1] >= self.size
        ):
            return False
        times = [_TIME_ENTRY.unpack_from(raw_time, i) for i in range(0, len(raw_time), 12)]
        try:
            last = self._last_header(index[-1][1] if index else 0)
        except CorruptBatchError:
            return False
        self.index, self.time_index = index, times
        self.max_timestamp = max((t for t, _ in times), default=-1)
        self.next_offset = last.last_offset + 1 if last else self.base_offset
        self.created_ms = now_ms
        return True

    def _last_header(self, position: int) -> BatchHeader | None:
        last = None
        while position < self.size:
            last = self.header_at(position)
            position += last.size
        if position != self.size:
            raise CorruptBatchError("the last batch runs past the end of the segment")
        return last

    def truncate_at(self, position: int) -> None:
        os.ftruncate(self.fd, position)
        self.size = position
        self.index = [e for e in self.index if e[1] < position]
        keep = self.batches()
        self.next_offset = keep[-1][1].last_offset + 1 if keep else self.base_offset
        self.time_index = [e for e in self.time_index if e[1] + self.base_offset < self.next_offset]
        self.max_timestamp = max((t for t, _ in self.time_index), default=-1)
