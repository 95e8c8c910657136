"""The LSM tree (codex 4.1–4.2): WAL, memtables, SSTables, compaction, stalls, recovery.

Write path. ``put`` appends a record ``seq u64 | kind u8 | key_len u32 | key | value`` to the
write-ahead log (framed with a CRC, see :mod:`archlab.storage.records`; group commit per
:mod:`archlab.storage.wal`) and sets the key in the memtable. A full memtable becomes
immutable (its log is synced and a new log file started) and is flushed to an L0 SSTable;
flushing and compaction (:mod:`archlab.storage.lsm.worker`) run in one background thread
(``background=True``) or inline in the writer's thread at each flush (``background=False``:
deterministic, for tests).

Read path. memtable → immutable memtables (newest first) → sorted runs newest first (L0 tables
one by one, then one table per deeper level, found by binary search on the run's key ranges),
skipping a table when the key is outside its range or its Bloom filter says no. Scans merge
the memtable snapshot, the immutable memtables and every run with a heap, newest source
winning, tombstones hiding older values; a scan reads one version and one memtable snapshot, so
it sees the store as of the call (sequence number ``snapshot_seq``) while writes go on.

Write stalls. Before each write the store checks the L0 table count (leveled) or sorted-run
count (tiered) and the pending compaction bytes, and the number of memtables waiting to flush.
RocksDB's defaults are 4 / 20 / 36 L0 files (compaction trigger / slowdown / stop) with 64 MB
memtables and a C++ compactor; archlab's are **4 / 8 / 12** (LevelDB's own) because a Python
compactor merges roughly a hundred times fewer bytes per second than RocksDB's, so a backlog of
20 L0 tables (each probed by every read and all merged into L1 at once) would take minutes to
drain and make every get probe 20 tables. Pending-bytes limits keep RocksDB's 1 : 4 ratio
(64 GB : 256 GB) scaled to the memtable (32× and 128× ``memtable_bytes``). Past a slowdown
threshold a write is delayed so writes proceed at ``delayed_write_rate`` bytes/s; past a stop
threshold (or with ``max_immutable`` memtables waiting) it waits until compaction catches up.
Every stall is counted with its duration.

Crash safety. The manifest (see :mod:`archlab.storage.lsm.version`) names the live tables and
the oldest log still needed; tables are synced (file and directory) before an edit names them,
and files are deleted only after an edit that drops them is synced
(:mod:`archlab.storage.lsm.worker`). Recovery (:mod:`archlab.storage.lsm.recovery`) replays
the manifest, opens the live tables, replays every newer log into a memtable (dropping a torn
tail); the store flushes it and deletes files no edit names (outputs of an interrupted
compaction, logs already flushed).

Statistics (``stats()``): user bytes written; bytes written to the WAL, by flushes and by
compaction per output level; bytes read by gets and compactions; tables probed per get; Bloom
negatives and false positives; stall count and time; write amplification (disk bytes / user
bytes), read amplification (tables probed per get), space amplification estimated as all live
table bytes over the last (largest) run's bytes, as RocksDB estimates it;
:meth:`LSMStore.space_amplification` measures it exactly (live bytes over the newest versions'
bytes) with a scan.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from archlab.errors import ConfigError
from archlab.storage.api import (
    StoreClosedError,
    SyncPolicy,
    check_key,
    check_sync,
    check_value,
)
from archlab.storage.bloom import key_hash
from archlab.storage.faultfs import FileSystem, OsFileSystem
from archlab.storage.lsm.compaction import Leveled, Tiered
from archlab.storage.lsm.memtable import MemSnapshot, Memtable
from archlab.storage.lsm.options import LSMOptions, LSMStats
from archlab.storage.lsm.recovery import delete_unreferenced, encode_record, file_path, recover
from archlab.storage.lsm.sstable import MISSING, BlockCache
from archlab.storage.lsm.version import Table, Version
from archlab.storage.lsm.worker import FlushAndCompaction
from archlab.storage.wal import WriteAheadLog

__all__ = ["LSMOptions", "LSMStats", "LSMStore"]


class LSMStore(FlushAndCompaction):
    """A crash-safe LSM tree on real files (see the module docstring)."""

    engine = "lsm"

    def __init__(
        self,
        path: str,
        sync: SyncPolicy = "batch",
        fs: FileSystem | None = None,
        **options: Any,
    ) -> None:
        try:
            self.options = LSMOptions(**options)
        except TypeError as exc:
            raise ConfigError(f"LSM store: {exc}") from None
        self.path = str(path)
        self.policy_name = check_sync(sync)
        self.fs = fs if fs is not None else OsFileSystem()
        o = self.options
        self.policy = (
            Leveled(o.size_ratio, o.l0_trigger, o.level_base_bytes)
            if o.compaction == "leveled"
            else Tiered(o.tier_min_merge, o.tier_size_ratio)
        )
        self.cache = BlockCache(o.block_cache_bytes)
        self.counters = LSMStats()
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._closed = False
        self._error = None
        self._busy = 0
        self._debt = 0.0
        self._debt_since = 0.0
        self.fs.makedirs(self.path)
        self._recover()
        self._worker = None
        self._workers = []
        if o.background:
            self._start_workers()

    # ------------------------------------------------------------------ recovery

    def _recover(self) -> None:
        """Open what the directory holds (see :mod:`archlab.storage.lsm.recovery`)."""
        found = recover(self.fs, self.path, self.policy, self.cache)
        self._manifest = found.manifest
        self.next_file = found.next_file
        self.seq = found.last_seq
        self.version = found.version
        self.imm = []
        self.mem = self._new_memtable()
        recovered = found.memtable
        if len(recovered):
            # its data is only in the old logs: flush it now (the flush deletes the newest
            # of them, delete_unreferenced the rest once the manifest no longer needs them)
            recovered.log_no = max(found.logs)
            self.imm.append(recovered)
            self._flush_oldest()
        else:
            self._write_edit([], [], self.mem.log_no)
        delete_unreferenced(
            self.fs,
            self.path,
            {t.file_no for t in self.version.tables()},
            {m.log_no for m in [self.mem, *self.imm]},
        )

    def _new_memtable(self) -> Memtable:
        log_no = self.next_file
        self.next_file += 1
        handle = self.fs.open(file_path(self.path, log_no, "log"))
        self.fs.sync_dir(self.path)  # the log's name must survive a crash with its records
        o = self.options
        self.wal = WriteAheadLog(handle, self.policy_name, o.group_bytes, o.group_ms)
        return Memtable(log_no)

    # ------------------------------------------------------------------ writes

    def put(self, key: bytes, value: bytes) -> None:
        key = check_key(key)
        value = check_value(value)
        self._write(key, value)

    def delete(self, key: bytes) -> None:
        self._write(check_key(key), None)

    def _write(self, key: bytes, value: bytes | None) -> None:
        if self._closed:
            raise StoreClosedError(f"LSM store {self.path} is closed")
        if self._error is not None:
            raise StoreClosedError(f"LSM store {self.path} stopped: {self._error}")
        if self._worker is not None:
            self._throttle(len(key) + (len(value) if value is not None else 0))
        with self._lock:
            self.seq += 1
            seq = self.seq
            payload = encode_record(seq, key, value)
            if value is None:
                self.counters.deletes += 1
            else:
                self.counters.puts += 1
            wal = self.wal
            position = wal.append(payload)
            self.mem.put(key, value, seq)
            self.counters.user_bytes += len(key) + (len(value) if value is not None else 0)
            if self.mem.bytes >= self.options.memtable_bytes:
                self._rotate()
        wal.commit(position)

    def _throttle(self, nbytes: int) -> None:
        """Delay or stop this write while compaction is behind (see the module docstring)."""
        o = self.options
        runs, pending = self.policy.pressure(self.version)
        waiting = len(self.imm)
        if runs >= o.l0_stop or pending >= o.pending_stop_bytes or waiting >= o.max_immutable:
            started = time.perf_counter()
            with self._cond:
                while not self._closed and self._error is None:
                    runs, pending = self.policy.pressure(self.version)
                    if (
                        runs < o.l0_stop
                        and pending < o.pending_stop_bytes
                        and len(self.imm) < o.max_immutable
                    ):
                        break
                    self._cond.notify_all()
                    self._cond.wait(0.05)
            waited = time.perf_counter() - started
            self.counters.stall_events += 1
            self.counters.stop_events += 1
            self.counters.stall_seconds += waited
            self.counters.stop_seconds += waited
        elif runs >= o.l0_slowdown or pending >= o.pending_slowdown_bytes:
            self._debt += nbytes / o.delayed_write_rate
            if self._debt >= 0.001:
                delay = self._debt
                self._debt = 0.0
                time.sleep(delay)
                self.counters.stall_events += 1
                self.counters.slowdown_events += 1
                self.counters.stall_seconds += delay
                self.counters.slowdown_seconds += delay

    def _rotate(self) -> None:
        """Make the memtable immutable and start a new one with its own log (lock held)."""
        self.wal.sync()
        self.wal.close()
        self.counters.wal_bytes += self.wal.bytes_written
        # Lists of immutable memtables are replaced, never mutated: a get iterating the old
        # list in another thread sees a consistent one.
        self.imm = [self.mem, *self.imm]
        self.mem = self._new_memtable()
        if self.options.background:
            self._cond.notify_all()
        else:
            while self.imm:
                self._flush_oldest()
            while self._compact_once():
                pass

    def sync(self) -> None:
        with self._lock:
            wal = self.wal
        wal.sync()

    def flush(self) -> None:
        """Turn the memtable into an SSTable now (and wait for it)."""
        with self._lock:
            if len(self.mem):
                self._rotate()
        self.wait_idle()

    # ------------------------------------------------------------------ reads

    def get(self, key: bytes) -> bytes | None:  # noqa: PLR0912 - the LSM read path: memtables, immutable memtables, then each level, with a Bloom check per table
        if type(key) is not bytes:
            key = check_key(key)
        c = self.counters
        c.gets += 1
        value = self.mem.data.get(key, MISSING)
        if value is not MISSING:
            return value  # type: ignore[return-value]
        for mem in self.imm:
            value = mem.data.get(key, MISSING)
            if value is not MISSING:
                return value  # type: ignore[return-value]
        hashed: tuple[int, int] | None = None
        for run in self.version.runs:
            tables = run.tables
            if len(tables) == 1:
                table = tables[0]
                info = table.info
                if key < info.min_key or key > info.max_key:
                    continue
            else:
                found = run.find(key)
                if found is None:
                    continue
                table = found
            reader = table.reader
            bloom = reader.bloom
            if bloom is not None:
                if hashed is None:
                    hashed = key_hash(key)
                if not bloom.may_contain_hash(*hashed):
                    c.bloom_negatives += 1
                    continue
            c.tables_probed += 1
            before = reader.bytes_read
            value = reader.get(key)
            c.get_bytes_read += reader.bytes_read - before
            if value is not MISSING:
                return value  # type: ignore[return-value]
            if bloom is not None:
                c.bloom_false_positives += 1
        return None

    def scan(
        self, start: bytes | None = None, end: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Pairs with ``start <= key < end`` in key order, from one consistent snapshot."""
        if self._closed:
            raise StoreClosedError(f"LSM store {self.path} is closed")
        with self._lock:
            snap = self.mem.snapshot()
            imms = list(self.imm)
            version = self.version
            seq = self.seq
        return self._scan(snap, imms, version, seq, start, end)

    def _scan(
        self,
        snap: MemSnapshot,
        imms: list[Memtable],
        version: Version,
        snapshot_seq: int,
        start: bytes | None,
        end: bytes | None,
    ) -> Iterator[tuple[bytes, bytes]]:
        # Every source is fixed as of ``snapshot_seq``: the pinned version and immutable
        # memtables hold nothing newer, and the memtable snapshot saves what later writes
        # overwrite. A source newer than the snapshot would be a bug in the read path.
        newest = max(
            [m.max_seq for m in imms] + [t.info.max_seq for t in version.tables()], default=0
        )
        if newest > snapshot_seq:
            raise AssertionError(f"scan at seq {snapshot_seq} sees a source at seq {newest}")
        sources: list[Iterator[tuple[bytes, bytes | None]]] = [snap.items(start, end)]
        for mem in imms:
            keys, values = mem.sorted_items()
            sources.append(iter(_range(keys, values, start, end)))
        for run in version.runs:
            sources.append(_run_items(run.tables, start, end))
        try:
            if len(sources) == 1:
                for key, value in sources[0]:
                    if value is not None:
                        yield key, value
                return
            streams = [_ranked(source, rank) for rank, source in enumerate(sources)]
            last = None
            for key, _, value in heapq.merge(*streams):
                if key == last:
                    continue
                last = key
                if value is not None:
                    yield key, value
        finally:
            snap.release()

    # ------------------------------------------------------------------ statistics and close

    def stats(self) -> dict[str, Any]:
        c = self.counters
        version = self.version
        live = version.total_bytes()
        compaction_written = sum(c.compaction_bytes_written.values())
        wal_bytes = c.wal_bytes + self.wal.bytes_written
        disk = wal_bytes + c.flush_bytes + compaction_written
        levels: dict[str, dict[str, int]] = {}
        for run in version.runs:
            entry = levels.setdefault(f"L{run.level}", {"tables": 0, "bytes": 0})
            entry["tables"] += len(run.tables)
            entry["bytes"] += run.size
        bottom = version.runs[-1].size if version.runs else 0
        return {
            "engine": "lsm",
            "compaction": self.options.compaction,
            "sync": self.policy_name,
            "puts": c.puts,
            "deletes": c.deletes,
            "gets": c.gets,
            "user_bytes": c.user_bytes,
            "wal_bytes": wal_bytes,
            "flush_bytes": c.flush_bytes,
            "flushes": c.flushes,
            "compactions": c.compactions,
            "compaction_bytes_written": {
                f"L{k}": v for k, v in sorted(c.compaction_bytes_written.items())
            },
            "compaction_bytes_read": c.compaction_bytes_read,
            "disk_bytes_written": disk,
            "get_bytes_read": c.get_bytes_read,
            "tables_probed": c.tables_probed,
            "tables_probed_per_get": c.tables_probed / c.gets if c.gets else 0.0,
            "bloom_negatives": c.bloom_negatives,
            "bloom_false_positives": c.bloom_false_positives,
            "stall_events": c.stall_events,
            "stall_seconds": c.stall_seconds,
            "slowdown_events": c.slowdown_events,
            "slowdown_seconds": c.slowdown_seconds,
            "stop_events": c.stop_events,
            "stop_seconds": c.stop_seconds,
            "sorted_runs": len(version.runs),
            "levels": levels,
            "live_table_bytes": live,
            "write_amplification": disk / c.user_bytes if c.user_bytes else 0.0,
            "write_amplification_tables": (c.flush_bytes + compaction_written) / c.user_bytes
            if c.user_bytes
            else 0.0,
            "read_amplification": c.tables_probed / c.gets if c.gets else 0.0,
            # RocksDB's estimate: all live bytes over the bytes of the last (largest) run;
            # space_amplification() measures it exactly with a scan.
            "space_amplification_estimate": live / bottom if bottom else 0.0,
            "block_cache_hits": self.cache.hits,
            "block_cache_misses": self.cache.misses,
        }

    def space_amplification(self) -> float:
        """Live table bytes over the encoded size of the newest value of every live key.

        Exact, by a full scan of the tables (without the memtables): for experiments.
        """
        version = self.version
        live = version.total_bytes()
        if not live:
            return 0.0
        sources = [_run_items(run.tables, None, None) for run in version.runs]
        streams = [_ranked(src, rank) for rank, src in enumerate(sources)]
        logical = 0
        last = None
        for key, _, value in heapq.merge(*streams):
            if key == last:
                continue
            last = key
            if value is not None:
                logical += len(key) + len(value) + 6
        return live / logical if logical else float("inf")

    def close(self) -> None:
        if self._closed:
            return
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._workers:
            thread.join()
        try:
            if self._error is None:
                self.wal.sync()
        finally:
            self.wal.close()
            self._manifest.close()

    def __enter__(self) -> LSMStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _range(
    keys: list[bytes], values: list[bytes | None], start: bytes | None, end: bytes | None
) -> Iterator[tuple[bytes, bytes | None]]:
    from bisect import bisect_left

    i = 0 if start is None else bisect_left(keys, start)
    j = len(keys) if end is None else bisect_left(keys, end)
    return zip(keys[i:j], values[i:j], strict=True)


def _run_items(
    tables: list[Table], start: bytes | None, end: bytes | None
) -> Iterator[tuple[bytes, bytes | None]]:
    for table in tables:
        if end is not None and table.info.min_key >= end:
            return
        if start is not None and table.info.max_key < start:
            continue
        for key, value in table.reader.iterate(start):
            if end is not None and key >= end:
                return
            yield key, value


def _ranked(
    source: Iterator[tuple[bytes, bytes | None]], rank: int
) -> Iterator[tuple[bytes, int, bytes | None]]:
    """Tag entries with their source's rank: on equal keys the newest (lowest rank) sorts first."""
    for key, value in source:
        yield key, rank, value
