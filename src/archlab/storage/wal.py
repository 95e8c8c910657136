"""A write-ahead log with group commit, shared by both engines (codex 4.1–4.2).

Records are framed by :mod:`archlab.storage.records` (a CRC per record). The sync policy
decides when an appended record becomes durable:

* ``always``: :meth:`WriteAheadLog.commit` returns only once the record is synced. Writers
  on several threads share syncs (group commit): the first to arrive becomes the leader,
  syncs everything appended so far, and every writer whose record that covered returns
  without a sync of its own.
* ``batch``: commit returns at once; the log is synced when ``group_bytes`` of records are
  waiting or ``group_ms`` have passed since the oldest unsynced one (checked on each commit),
  and on :meth:`WriteAheadLog.sync`.
* ``os``: commit hands the record to the operating system (flushes the file's user-space
  append buffer, no sync): a crash of the process loses nothing, a power loss may.
* ``none``: only :meth:`WriteAheadLog.sync` (the engine's checkpoint, flush or close) syncs.
"""

from __future__ import annotations

import threading
import time

from archlab.storage.api import SyncPolicy
from archlab.storage.faultfs import FileHandle
from archlab.storage.records import frame


class WriteAheadLog:
    def __init__(
        self,
        handle: FileHandle,
        sync: SyncPolicy,
        group_bytes: int = 1 << 20,
        group_ms: float = 10.0,
    ) -> None:
        self.handle = handle
        self.policy = sync
        self.group_bytes = group_bytes
        self.group_ms = group_ms
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self.end = handle.size()
        self.synced = self.end
        self._oldest_unsynced = 0.0
        self.bytes_written = 0
        self.syncs = 0

    def append(self, payload: bytes) -> int:
        """Append one record; return the log position just past it."""
        record = frame(payload)
        with self._lock:
            self.handle.append(record)
            if self.end == self.synced:
                self._oldest_unsynced = time.monotonic()
            self.end += len(record)
            self.bytes_written += len(record)
            return self.end

    def commit(self, position: int) -> None:
        """Apply the sync policy to a record ending at ``position`` (see the docstring)."""
        if self.policy == "always":
            self.sync_to(position)
        elif self.policy == "batch":
            waiting = self.end - self.synced
            if waiting >= self.group_bytes or (
                waiting and (time.monotonic() - self._oldest_unsynced) * 1000.0 >= self.group_ms
            ):
                self.sync_to(self.end)
        elif self.policy == "os":
            with self._lock:
                self.handle.flush()

    def sync(self) -> None:
        self.sync_to(self.end)

    def sync_to(self, position: int) -> None:
        if self.synced >= position:
            return
        with self._sync_lock:
            if self.synced >= position:
                return  # a leader's sync covered this record: group commit
            with self._lock:
                self.handle.flush()
                target = self.end
            self.handle.sync()
            self.syncs += 1
            self.synced = max(self.synced, target)

    def reset(self) -> None:
        """Empty the log durably (after a checkpoint made its records redundant)."""
        with self._sync_lock, self._lock:
            self.handle.truncate(0)
            self.handle.sync()
            self.end = self.synced = 0

    def close(self) -> None:
        with self._sync_lock, self._lock:
            self.handle.close()
