"""The memtable: where an LSM tree's writes land first (codex 4.1).

A hash map from key to value (``None`` is a tombstone) gives the write and point-read paths
a single dict operation each; order is produced when it is needed, by sorting the keys (C's
Timsort) at flush and at the start of a scan. That is the trade a Python engine should make:
a skip list or a balanced tree in pure Python costs a microsecond of interpreter work per
level on every write, a sort costs it once per flush.

Snapshots. A scan must see the memtable as it was when the scan began while writes go on.
:meth:`Memtable.snapshot` records the sorted key set and registers the snapshot; while any
snapshot is registered, :meth:`Memtable.put` first saves the value it is about to overwrite
into each registered snapshot that has not saved that key yet (copy on write, only for the
keys written during the scan). A snapshot reads a key from its saved copy if it has one, else
from the live map, and a key absent at snapshot time is not in its key set at all.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterator

ENTRY_OVERHEAD = 16


class _Absent:
    __slots__ = ()


ABSENT = _Absent()


class MemSnapshot:
    """The memtable's contents at one instant (see the module docstring)."""

    def __init__(self, table: Memtable, keys: list[bytes]) -> None:
        self.table = table
        self.keys = keys
        self.saved: dict[bytes, bytes | _Absent | None] = {}

    def items(self, start: bytes | None, end: bytes | None) -> Iterator[tuple[bytes, bytes | None]]:
        keys = self.keys
        i = 0 if start is None else bisect_left(keys, start)
        j = len(keys) if end is None else bisect_left(keys, end)
        data = self.table.data
        saved = self.saved
        for key in keys[i:j]:
            value = saved[key] if key in saved else data[key]
            if not isinstance(value, _Absent):
                yield key, value

    def release(self) -> None:
        self.table.release(self)


class Memtable:
    """Writes since the last flush, with their WAL file and size (see the module docstring)."""

    def __init__(self, log_no: int) -> None:
        self.data: dict[bytes, bytes | None] = {}
        self.log_no = log_no
        self.bytes = 0
        self.min_seq = 0
        self.max_seq = 0
        self.snapshots: list[MemSnapshot] = []
        self._lock = threading.Lock()

    def put(self, key: bytes, value: bytes | None, seq: int) -> None:
        if self.snapshots:
            self._save_for_snapshots(key)
        self.data[key] = value
        self.bytes += len(key) + (len(value) if value is not None else 0) + ENTRY_OVERHEAD
        if not self.min_seq:
            self.min_seq = seq
        self.max_seq = seq

    def _save_for_snapshots(self, key: bytes) -> None:
        old = self.data.get(key, ABSENT)
        for snap in self.snapshots:
            if key not in snap.saved:
                snap.saved[key] = old

    def snapshot(self) -> MemSnapshot:
        snap = MemSnapshot(self, sorted(self.data))
        with self._lock:
            self.snapshots.append(snap)
        return snap

    def release(self, snap: MemSnapshot) -> None:
        with self._lock:
            if snap in self.snapshots:
                self.snapshots.remove(snap)

    def sorted_items(self) -> tuple[list[bytes], list[bytes | None]]:
        keys = sorted(self.data)
        data = self.data
        return keys, [data[k] for k in keys]

    def __len__(self) -> int:
        return len(self.data)
