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
from collections.abc import Callable

from archlab.storage.api import StoreClosedError
from archlab.storage.faultfs import FileHandle, FileSystem, join
from archlab.storage.lsm.compaction import Job, Policy, Tiered
from archlab.storage.lsm.memtable import Memtable
from archlab.storage.lsm.merge import blocks_per_read, merge_streaming
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
    _busy: int  # flush and compaction steps under way
    _error: BaseException | None
    _worker: threading.Thread | None
    _workers: list[threading.Thread]

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
        handle, writer = self._open_table(file_no)
        writer.add_many(keys, values)
        return self._finish_table(handle, writer, file_no, level, min_seq, max_seq)

    def _open_table(self, file_no: int) -> tuple[FileHandle, TableWriter]:
        handle = self.fs.open(file_path(self.path, file_no, "sst"))
        o = self.options
        return handle, TableWriter(handle, o.block_bytes, o.bloom_bits_per_key)

    def _finish_table(
        self,
        handle: FileHandle,
        writer: TableWriter,
        file_no: int,
        level: int,
        min_seq: int,
        max_seq: int,
    ) -> Table:
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
        """Merge the job's inputs as a stream (:mod:`archlab.storage.lsm.merge`), writing output
        tables as it goes, so memory stays bounded whatever the inputs' size."""
        tables = job.input_tables
        min_seq = min(t.info.min_seq for t in tables)
        max_seq = max(t.info.max_seq for t in tables)
        read_before = sum(t.reader.bytes_read for t in tables)
        outputs: list[Table] = []
        per_table = self._entries_per_table(tables)
        current: tuple[int, FileHandle, TableWriter] | None = None
        in_current = 0  # entries given to the current output table
        reads = blocks_per_read(
            len(job.inputs), self.options.block_bytes, self.options.compaction_memory_bytes
        )
        for keys, values in merge_streaming(job.inputs, job.drop_tombstones, blocks_per_read=reads):
            start = 0
            while start < len(keys):
                if current is None:
                    with self._lock:
                        file_no = self.next_file
                        self.next_file += 1
                    current = (file_no, *self._open_table(file_no))
                file_no, handle, writer = current
                end = min(len(keys), start + per_table - in_current)
                writer.add_many(keys[start:end], values[start:end])
                in_current += end - start
                start = end
                if in_current >= per_table:
                    in_current = 0
                    outputs.append(
                        self._finish_table(
                            handle, writer, file_no, job.output_level, min_seq, max_seq
                        )
                    )
                    current = None
        if current is not None:
            file_no, handle, writer = current
            outputs.append(
                self._finish_table(handle, writer, file_no, job.output_level, min_seq, max_seq)
            )
        read = sum(t.reader.bytes_read for t in tables) - read_before
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

    # ------------------------------------------------------------------ the worker threads

    def _start_workers(self) -> None:
        """One thread flushes, another compacts: a long compaction never holds up a flush,
        so memtables keep draining while a merge is under way (RocksDB's separate flush and
        compaction pools)."""
        self._workers = [
            threading.Thread(target=self._flush_loop, name="lsm-flush", daemon=True),
            threading.Thread(target=self._compaction_loop, name="lsm-compaction", daemon=True),
        ]
        for thread in self._workers:
            thread.start()
        self._worker = self._workers[0]

    def _flush_loop(self) -> None:
        """Flush immutable memtables, oldest first, until closed with none left."""
        self._loop(lambda: bool(self.imm), self._flush_oldest, drain_on_close=True)

    def _compaction_loop(self) -> None:
        """Run the jobs the policy picks; stop at close (the merge under way finishes)."""
        self._loop(self._has_compaction, self._compact_once, drain_on_close=False)

    def _loop(
        self, pending: Callable[[], bool], step: Callable[[], object], *, drain_on_close: bool
    ) -> None:
        try:
            while True:
                with self._cond:
                    while not self._closed and not pending():
                        self._cond.wait(0.1)
                    if self._closed and not (drain_on_close and pending()):
                        return
                    self._busy += 1
                try:
                    step()
                finally:
                    with self._cond:
                        self._busy -= 1
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
