"""The LSM tree's flush and compaction worker, and the manifest edits they install (codex 4.2).

:class:`FlushAndCompaction` is the half of :class:`~archlab.storage.lsm.store.LSMStore` that
turns immutable memtables into L0 SSTables and merges sorted runs as the compaction policy
(:mod:`archlab.storage.lsm.compaction`) picks them. It runs in one background thread
(:meth:`FlushAndCompaction._work`, flushes before compactions) or inline in the writer's
thread. Each result becomes durable in a fixed order: the new tables are synced (file and
directory), then a manifest edit naming them is appended and synced, then the new version is
installed for readers, and only then are the replaced files deleted. Past
``manifest_bytes`` the manifest is rewritten as one snapshot edit and switched by rename.
"""

from __future__ import annotations

import threading
import time

from archlab.storage.api import StoreClosedError
from archlab.storage.faultfs import FileHandle, FileSystem, join
from archlab.storage.lsm.compaction import Job, Policy, Tiered, merge_runs
from archlab.storage.lsm.memtable import Memtable
from archlab.storage.lsm.options import LSMOptions, LSMStats
from archlab.storage.lsm.recovery import MANIFEST, file_path
from archlab.storage.lsm.sstable import BlockCache, TableReader, TableWriter
from archlab.storage.lsm.version import Table, TableInfo, Version, encode_edit
from archlab.storage.records import frame


class FlushAndCompaction:
    """Flush, compaction and manifest edits of an LSM store (a mixin of ``LSMStore``)."""

    # The store's state this half reads and changes (set by LSMStore.__init__).
    path: str
    fs: FileSystem
    options: LSMOptions
    policy: Policy
    cache: BlockCache
    counters: LSMStats
    version: Version
    mem: Memtable
    imm: list[Memtable]
    next_file: int
    seq: int
    _manifest: FileHandle
    _lock: threading.RLock
    _cond: threading.Condition
    _closed: bool
    _busy: bool
    _error: BaseException | None
    _worker: threading.Thread | None

    # ------------------------------------------------------------------ manifest edits

    def _write_edit(
        self, add: list[Table], remove: list[Table], log_no: int, version: Version | None = None
    ) -> None:
        runs = None
        if isinstance(self.policy, Tiered):
            v = version or self.version
            runs = [[t.file_no for t in r.tables] for r in v.runs]
        payload = encode_edit(
            [t.info for t in add],
            [t.file_no for t in remove],
            log_no,
            self.next_file,
            self.seq,
            runs,
        )
        self._manifest.append(frame(payload))
        self._manifest.sync()

    def _maybe_rewrite_manifest(self) -> None:
        """Replace a long manifest by one snapshot edit, switched atomically (lock held)."""
        if self._manifest.size() < self.options.manifest_bytes:
            return
        tmp = join(self.path, MANIFEST + ".tmp")
        handle = self.fs.open(tmp)
        handle.truncate(0)
        old_manifest, self._manifest = self._manifest, handle
        oldest_needed = self.imm[-1].log_no if self.imm else self.mem.log_no
        self._write_edit(self.version.tables(), [], oldest_needed)
        self.fs.rename(tmp, join(self.path, MANIFEST))
        self.fs.sync_dir(self.path)
        old_manifest.close()

    # ------------------------------------------------------------------ flush

    def _flush_oldest(self) -> None:
        with self._lock:
            mem = self.imm[-1]
            file_no = self.next_file
            self.next_file += 1
        keys, values = mem.sorted_items()
        table = self._write_table(file_no, 0, keys, values, mem.min_seq, mem.max_seq)
        self.fs.sync_dir(self.path)
        with self._lock:
            self.counters.flushes += 1
            self.counters.flush_bytes += table.size
            version = self.policy.add_flush(self.version, table)
            remaining = self.imm[:-1]
            oldest_needed = remaining[-1].log_no if remaining else self.mem.log_no
            self._write_edit([table], [], oldest_needed, version)
            # the table is readable in the new version before the memtable leaves the list,
            # so a concurrent get finds the data in one or the other, never in neither
            self.version = version
            self.imm = remaining
            self.fs.remove(file_path(self.path, mem.log_no, "log"))
            self._cond.notify_all()

    def _write_table(
        self,
        file_no: int,
        level: int,
        keys: list[bytes],
        values: list[bytes | None],
        min_seq: int,
        max_seq: int,
    ) -> Table:
        handle = self.fs.open(file_path(self.path, file_no, "sst"))
        o = self.options
        writer = TableWriter(handle, o.block_bytes, o.bloom_bits_per_key)
        writer.add_many(keys, values)
        meta = writer.finish(min_seq, max_seq)
        handle.sync()
        info = TableInfo(
            file_no,
            level,
            handle.size(),
            meta.min_key,
            meta.max_key,
            min_seq,
            max_seq,
            meta.entries,
            meta.tombstones,
        )
        return Table(info, TableReader(handle, file_no, self.cache))

    # ------------------------------------------------------------------ compaction

    def _compact_once(self) -> bool:
        with self._lock:
            job = self.policy.pick(self.version)
        if job is None:
            return False
        self._run_job(job)
        return True

    def _run_job(self, job: Job) -> None:
        keys, values, read = merge_runs(job.inputs, job.drop_tombstones)
        tables = job.input_tables
        min_seq = min(t.info.min_seq for t in tables)
        max_seq = max(t.info.max_seq for t in tables)
        outputs: list[Table] = []
        per_table = self._entries_per_table(tables)
        for start in range(0, len(keys), per_table):
            with self._lock:
                file_no = self.next_file
                self.next_file += 1
            chunk = slice(start, start + per_table)
            outputs.append(
                self._write_table(
                    file_no, job.output_level, keys[chunk], values[chunk], min_seq, max_seq
                )
            )
        if outputs:
            self.fs.sync_dir(self.path)
        with self._lock:
            written = sum(t.size for t in outputs)
            c = self.counters
            c.compactions += 1
            c.compaction_bytes_read += read
            c.compaction_bytes_written[job.output_level] = (
                c.compaction_bytes_written.get(job.output_level, 0) + written
            )
            version = self.policy.apply(self.version, job, outputs)
            oldest_needed = self.imm[-1].log_no if self.imm else self.mem.log_no
            self._write_edit(outputs, tables, oldest_needed, version)
            self.version = version
            for table in tables:
                self.fs.remove(file_path(self.path, table.file_no, "sst"))
                self.cache.drop_file(table.file_no)
            self._maybe_rewrite_manifest()
            self._cond.notify_all()

    def _entries_per_table(self, tables: list[Table]) -> int:
        entries = sum(t.info.entries for t in tables) or 1
        size = sum(t.size for t in tables) or 1
        return max(1, int(self.options.table_bytes * entries / size))

    def _has_compaction(self) -> bool:
        return self.policy.pick(self.version) is not None

    # ------------------------------------------------------------------ the worker thread

    def _work(self) -> None:
        """The background thread: flush immutable memtables first, then compact."""
        try:
            while True:
                with self._cond:
                    while not self._closed and not self.imm and not self._has_compaction():
                        self._cond.wait(0.1)
                    if self._closed and not self.imm:
                        return
                    self._busy = True
                try:
                    if self.imm:
                        self._flush_oldest()
                    elif not self._closed:
                        self._compact_once()
                finally:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()
        except BaseException as exc:  # a crash point or a disk error stops the store
            with self._cond:
                self._error = exc
                self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> None:
        """Block until no flush or compaction is pending (for tests and experiments)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._error is None and (self.imm or self._busy or self._has_compaction()):
                if self._worker is None:
                    while self.imm:
                        self._flush_oldest()
                    while self._compact_once():
                        pass
                    break
                self._cond.notify_all()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(0.05 if left is None else min(0.05, left))
        if self._error is not None:
            raise StoreClosedError(f"LSM store {self.path} stopped: {self._error}")
