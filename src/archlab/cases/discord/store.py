"""The database behind the data service (codex 10.2): archlab's LSM with a cost per read.

A Cassandra or ScyllaDB partition serves a bounded number of reads at a time, each taking
some milliseconds; a hot channel's partition saturates first. :class:`CostlyStore` models
that in front of a real :class:`~archlab.storage.lsm.LSMStore`: at most ``concurrency`` reads
run at once, each holds its slot for ``read_ms`` after the LSM lookup, and every query is
counted. ``fail`` makes the next reads raise, to show errors fan out to coalesced waiters.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

from archlab.storage import open_store


class StoreError(Exception):
    """The store failed a read."""


class CostlyStore:
    def __init__(self, path: Path, read_ms: float = 2.0, concurrency: int = 4) -> None:
        self._lsm = open_store("lsm", path, sync="none")
        self.read_ms = read_ms
        self._slots = asyncio.Semaphore(concurrency)
        self.concurrency = concurrency
        self.queries = 0
        self.queries_by_key: Counter[bytes] = Counter()
        self.busy_seconds = 0.0
        self.max_waiting = 0
        self._waiting = 0
        self.fail = False

    def put(self, key: bytes, value: bytes) -> None:
        self._lsm.put(key, value)

    async def read(self, key: bytes) -> bytes | None:
        self.queries += 1
        self.queries_by_key[key] += 1
        self._waiting += 1
        self.max_waiting = max(self.max_waiting, self._waiting)
        async with self._slots:
            self._waiting -= 1
            start = time.perf_counter()
            if self.fail:
                raise StoreError(f"read of {key!r} failed")
            value = self._lsm.get(key)
            await asyncio.sleep(self.read_ms / 1000)
            self.busy_seconds += time.perf_counter() - start
            return value

    def close(self) -> None:
        self._lsm.close()
