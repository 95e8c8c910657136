"""Keys and I/O accounting for the chapter 4 experiments and the storage benchmark.

* :func:`uuid4_keys` and :func:`time_ordered_keys`: 16-byte keys, random (UUIDv4) or starting
  with a 48-bit millisecond timestamp and a counter, then random bits (the layout of UUIDv7 and
  ULID, enough for the 4.1 / 6.2 fragmentation experiment; the real generators live in
  ``archlab.ids``).
* :func:`skewed_indexes`: a hot set of keys taking most writes (for the compaction experiment).
* :class:`CountingFileSystem`: wraps real files and records every write as sequential (it
  starts where the previous write to that file ended) or not, so an experiment can report how
  much of an engine's I/O was sequential.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from archlab.storage.faultfs import OsFile, OsFileSystem


def uuid4_keys(n: int, rng: random.Random) -> list[bytes]:
    keys = []
    for _ in range(n):
        raw = bytearray(rng.getrandbits(128).to_bytes(16, "big"))
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        keys.append(bytes(raw))
    return keys


def time_ordered_keys(
    n: int, rng: random.Random, start_ms: int = 1_700_000_000_000, per_ms: int = 50
) -> list[bytes]:
    """UUIDv7-like keys: 48-bit ms timestamp, 12-bit counter, 68 random bits (sorted by time)."""
    keys = []
    for i in range(n):
        ms = start_ms + i // per_ms
        counter = i % per_ms
        tail = rng.getrandbits(68)
        value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | (tail & (2**62 - 1))
        keys.append(value.to_bytes(16, "big"))
    return keys


def skewed_indexes(n: int, keyspace: int, rng: random.Random, hot: float = 0.1) -> list[int]:
    """``n`` key indexes: 90% of them in the hottest ``hot`` share of the key space."""
    hot_keys = max(1, int(keyspace * hot))
    return [
        rng.randrange(hot_keys) if rng.random() < 0.9 else rng.randrange(keyspace) for _ in range(n)
    ]


@dataclass
class IOCount:
    sequential_bytes: int = 0
    random_bytes: int = 0
    writes: int = 0
    syncs: int = 0
    last_end: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.sequential_bytes + self.random_bytes

    @property
    def sequential_share(self) -> float:
        return self.sequential_bytes / self.total if self.total else 0.0


class _CountingFile(OsFile):
    def __init__(self, path: str, create: bool, count: IOCount) -> None:
        super().__init__(path, create)
        self._count = count

    def _record(self, offset: int, size: int) -> None:
        count = self._count
        if count.last_end.get(self.path, 0) == offset:
            count.sequential_bytes += size
        else:
            count.random_bytes += size
        count.last_end[self.path] = offset + size
        count.writes += 1

    def flush(self) -> None:
        if self._buffer:
            self._record(self._buffered_from, len(self._buffer))
        super().flush()

    def write_at(self, offset: int, data: bytes) -> None:
        super().flush()
        self._record(offset, len(data))
        super().write_at(offset, data)

    def truncate(self, size: int) -> None:
        super().truncate(size)
        self._count.last_end[self.path] = size

    def sync(self) -> None:
        self._count.syncs += 1
        super().sync()


class CountingFileSystem(OsFileSystem):
    """Real files whose writes are classified as sequential or random (see module docstring)."""

    def __init__(self) -> None:
        self.count = IOCount()

    def open(self, path: str, create: bool = True) -> OsFile:
        handle = _CountingFile(path, create, self.count)
        self.count.last_end.setdefault(path, handle.size())
        return handle
