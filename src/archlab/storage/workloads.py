"""Keys and I/O accounting for the chapter 4 experiments and the storage benchmark.

* :func:`random_keys`: distinct random 16-byte keys (db_bench's key size). The 4.1 / 6.2 key
  experiments take their UUIDs and ULIDs from the real generators in ``archlab.ids``.
* :func:`skewed_indexes`: a hot set of keys taking most writes (for the compaction experiment).
* :class:`CountingFileSystem`: wraps real files and records every write as sequential (it
  starts where the previous write to that file ended) or not, so an experiment can report how
  much of an engine's I/O was sequential.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from archlab.storage.faultfs import OsFile, OsFileSystem


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


def random_keys(n: int, rng: random.Random) -> list[bytes]:
    """``n`` distinct random 16-digit keys (16 bytes, db_bench's key size), in random order."""
    return [b"%016d" % k for k in rng.sample(range(10**15), n)]
