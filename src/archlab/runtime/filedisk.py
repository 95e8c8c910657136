"""A real directory behind the records interface, so Multi-Paxos and Zab keep files (codex 5.3).

Multi-Paxos's and Zab's storages (:mod:`archlab.consensus.paxos.simstorage`,
:mod:`archlab.consensus.zab.simstorage`) keep their state in checksummed records through the
small :class:`~archlab.sim.records.Files` interface the simulator's disk implements.
:class:`FileDisk` implements the same interface on a directory of real files, with the same
contract: writes reach the page cache at once and become durable at :meth:`FileDisk.fsync`,
which ``fdatasync``s every file written since the last one and then the directory (so creations
and renames are durable too). The host calls it for the server's ``SyncStorage`` action, once
per batch: group commit, as for Raft's :class:`~archlab.runtime.filestore.FileStorage`.

:meth:`FileDisk.replace` writes a temporary file, syncs it and renames it over the target, so a
state file is always the old one or the new one, whole. A torn log tail (a crash in the middle of
an append) is cut by the records' checksums when the storage is opened.
``durable=False`` (``--durability none``) skips every sync.
"""

from __future__ import annotations

import os
from pathlib import Path

from archlab.runtime.atomicfile import fsync_directory


class FileDisk:
    """The files of one node's data directory (see the module docstring)."""

    def __init__(self, directory: str | Path, *, durable: bool = True) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.durable = durable
        self._fds: dict[str, int] = {}
        self._dirty: set[str] = set()
        self._names_dirty = False
        #: fsync calls that synced something.
        self.syncs = 0

    def _path(self, name: str) -> Path:
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"not a file name: {name!r}")
        return self.directory / name

    def _fd(self, name: str) -> int:
        fd = self._fds.get(name)
        if fd is None:
            existed = self._path(name).exists()
            fd = os.open(self._path(name), os.O_RDWR | os.O_CREAT, 0o644)
            self._fds[name] = fd
            self._names_dirty |= not existed
        return fd

    def _forget(self, name: str) -> None:
        fd = self._fds.pop(name, None)
        if fd is not None:
            os.close(fd)
        self._dirty.discard(name)

    # -- the Files interface --------------------------------------------------------------

    def exists(self, path: str) -> bool:
        return self._path(path).exists()

    def create(self, path: str) -> None:
        self._fd(path)

    def append(self, path: str, data: bytes) -> int:
        fd = self._fd(path)
        offset = os.lseek(fd, 0, os.SEEK_END)
        view = memoryview(data)
        position = offset
        while view:
            written = os.pwrite(fd, view, position)
            view = view[written:]
            position += written
        self._dirty.add(path)
        return offset

    def read(self, path: str, offset: int = 0, size: int | None = None) -> bytes:
        if not self.exists(path):
            raise FileNotFoundError(path)
        fd = self._fd(path)
        length = os.fstat(fd).st_size - offset if size is None else size
        return os.pread(fd, max(0, length), offset)

    def size(self, path: str) -> int:
        return os.fstat(self._fd(path)).st_size

    def truncate(self, path: str, size: int) -> None:
        fd = self._fd(path)
        if size < os.fstat(fd).st_size:
            os.ftruncate(fd, size)
            self._dirty.add(path)

    def replace(self, path: str, data: bytes) -> None:
        target = self._path(path)
        tmp = target.with_name(target.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if self.durable:
                os.fdatasync(fd)
        finally:
            os.close(fd)
        self._forget(path)
        os.replace(tmp, target)
        self._names_dirty = True

    # -- durability -----------------------------------------------------------------------

    def fsync(self) -> None:
        """Make everything written so far durable (files, then the directory's names)."""
        if not self.durable or not (self._dirty or self._names_dirty):
            self._dirty.clear()
            self._names_dirty = False
            return
        for name in sorted(self._dirty):
            fd = self._fds.get(name)
            if fd is not None:
                os.fdatasync(fd)
        if self._names_dirty:
            fsync_directory(self.directory)
        self._dirty.clear()
        self._names_dirty = False
        self.syncs += 1

    def close(self) -> None:
        for name in list(self._fds):
            self._forget(name)
