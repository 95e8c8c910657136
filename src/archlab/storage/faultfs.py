"""The file layer under both storage engines, and a fault-injecting one for crash tests.

Both engines (codex 4.1 B+-tree, 4.2 LSM tree) reach the disk only through a
:class:`FileSystem`: open a file, append or write at an offset, read at an offset, ``sync``,
truncate, rename, remove, list, and sync a directory. :class:`OsFileSystem` maps that onto
real files (``os.pwrite``, ``os.pread``, ``os.fsync``), with a user-space append buffer so a
write-ahead log does not pay a system call per record.

:class:`FaultFileSystem` keeps every file in memory and models what a power cut keeps:

* each file has the bytes that reached stable storage (``durable``) and the writes issued
  since its last ``sync`` (``pending``, in issue order);
* names are durable only once their directory was synced (a created or renamed file whose
  directory was never synced disappears on a crash; its inode data goes with it);
* :meth:`FaultFileSystem.crash` drops everything not durable. With ``torn=True`` it keeps,
  per file, a random prefix of the pending writes and a random prefix of the bytes of the next
  one (a torn last write), which is what a disk that reorders nothing but stops mid-sector
  leaves behind.

A crash *point* is an operation count: :meth:`FaultFileSystem.arm` makes the n-th mutating
operation (write, sync, truncate, rename, remove, directory sync) raise :class:`SimulatedCrash`
before it takes effect, so a test can stop an engine anywhere, call :meth:`crash`, and reopen
it on what survived. The simulated disk of ``archlab.sim`` can reuse the same model: a file is
(durable bytes, pending writes), a namespace is (durable names, current names).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class SimulatedCrash(Exception):
    """Raised by :class:`FaultFileSystem` at an armed crash point (never caught by engines)."""


class FileHandle(Protocol):
    """An open file: appends are buffered until :meth:`flush`, :meth:`sync` or :meth:`close`."""

    path: str

    def append(self, data: bytes) -> int:
        """Append ``data`` at the end; return the offset where it starts."""

    def write_at(self, offset: int, data: bytes) -> None: ...

    def read_at(self, offset: int, size: int) -> bytes: ...

    def size(self) -> int: ...

    def flush(self) -> None:
        """Hand buffered appends to the OS (no durability)."""

    def sync(self) -> None:
        """Make every write so far durable (``fsync``)."""

    def truncate(self, size: int) -> None: ...

    def close(self) -> None: ...


class FileSystem(Protocol):
    """The operations an engine needs from a directory of files."""

    def open(self, path: str, create: bool = True) -> FileHandle: ...

    def exists(self, path: str) -> bool: ...

    def remove(self, path: str) -> None: ...

    def rename(self, src: str, dst: str) -> None:
        """Atomically replace ``dst`` by ``src`` (durable after :meth:`sync_dir`)."""

    def listdir(self, path: str) -> list[str]: ...

    def makedirs(self, path: str) -> None: ...

    def sync_dir(self, path: str) -> None: ...


# --------------------------------------------------------------------------- real files

_APPEND_BUFFER = 1 << 16


class OsFile:
    """A real file: ``pread``/``pwrite`` and an append buffer flushed at 64 KiB."""

    def __init__(self, path: str, create: bool) -> None:
        flags = os.O_RDWR | (os.O_CREAT if create else 0)
        self.path = path
        self._fd = os.open(path, flags, 0o644)
        self._end = os.fstat(self._fd).st_size
        self._buffer = bytearray()
        self._buffered_from = self._end

    def append(self, data: bytes) -> int:
        offset = self._end
        self._buffer += data
        self._end += len(data)
        if len(self._buffer) >= _APPEND_BUFFER:
            self.flush()
        return offset

    def write_at(self, offset: int, data: bytes) -> None:
        self.flush()
        os.pwrite(self._fd, data, offset)
        self._end = max(self._end, offset + len(data))
        self._buffered_from = self._end

    def read_at(self, offset: int, size: int) -> bytes:
        if self._buffer and offset + size > self._buffered_from:
            self.flush()
        return os.pread(self._fd, size, offset)

    def size(self) -> int:
        return self._end

    def flush(self) -> None:
        if self._buffer:
            view = memoryview(self._buffer)
            written = 0
            while written < len(view):
                written += os.pwrite(self._fd, view[written:], self._buffered_from + written)
            view.release()
            self._buffer.clear()
            self._buffered_from = self._end

    def sync(self) -> None:
        self.flush()
        os.fdatasync(self._fd)

    def truncate(self, size: int) -> None:
        self.flush()
        os.ftruncate(self._fd, size)
        self._end = size
        self._buffered_from = size

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        if self._fd >= 0:
            try:
                self.flush()
            finally:
                os.close(self._fd)
                self._fd = -1

    def __del__(self) -> None:
        # An obsolete SSTable is unlinked at once but its handle lives on while a scan or a
        # get still holds the old version; the last reference closes it.
        if getattr(self, "_fd", -1) >= 0:
            os.close(self._fd)
            self._fd = -1


class OsFileSystem:
    """Real files under real directories."""

    def open(self, path: str, create: bool = True) -> OsFile:
        return OsFile(path, create)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def remove(self, path: str) -> None:
        os.remove(path)

    def rename(self, src: str, dst: str) -> None:
        os.replace(src, dst)

    def listdir(self, path: str) -> list[str]:
        return sorted(os.listdir(path))

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def sync_dir(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------- simulated disk


@dataclass
class Inode:
    """A file's bytes: what a crash keeps (``durable``) and the writes since the last sync."""

    durable: bytearray = field(default_factory=bytearray)
    data: bytearray = field(default_factory=bytearray)
    #: unsynced operations in issue order: ("w", offset, bytes) or ("t", size, b"")
    pending: list[tuple[str, int, bytes]] = field(default_factory=list)


@dataclass
class FaultStats:
    operations: int = 0
    syncs: int = 0
    bytes_written: int = 0
    crashes: int = 0


class FaultFile:
    """A handle on an :class:`Inode` of a :class:`FaultFileSystem` (appends unbuffered)."""

    def __init__(self, fs: FaultFileSystem, path: str, inode: Inode) -> None:
        self.path = path
        self._fs = fs
        self._inode = inode
        self._generation = fs.generation

    def _check(self) -> Inode:
        if self._generation != self._fs.generation:
            raise OSError(f"{self.path}: handle from before a crash")
        return self._inode

    def append(self, data: bytes) -> int:
        inode = self._check()
        offset = len(inode.data)
        self.write_at(offset, data)
        return offset

    def write_at(self, offset: int, data: bytes) -> None:
        inode = self._check()
        self._fs.tick("write", self.path)
        data = bytes(data)
        end = offset + len(data)
        if len(inode.data) < offset:
            inode.data.extend(bytes(offset - len(inode.data)))
        inode.data[offset:end] = data
        inode.pending.append(("w", offset, data))
        self._fs.stats.bytes_written += len(data)

    def read_at(self, offset: int, size: int) -> bytes:
        inode = self._check()
        return bytes(inode.data[offset : offset + size])

    def size(self) -> int:
        return len(self._check().data)

    def flush(self) -> None:
        self._check()

    def sync(self) -> None:
        inode = self._check()
        self._fs.tick("sync", self.path)
        inode.durable = bytearray(inode.data)
        inode.pending.clear()
        self._fs.stats.syncs += 1

    def truncate(self, size: int) -> None:
        inode = self._check()
        self._fs.tick("truncate", self.path)
        del inode.data[size:]
        inode.pending.append(("t", size, b""))

    def close(self) -> None:
        pass


class FaultFileSystem:
    """An in-memory disk that loses unsynced data on :meth:`crash` (see the module docstring)."""

    def __init__(self, seed: int = 0) -> None:
        self.names: dict[str, Inode] = {}
        self.durable_names: dict[str, Inode] = {}
        self.dirs: set[str] = set()
        self.stats = FaultStats()
        self.generation = 0
        self.crash_at: int | None = None
        self.log: list[tuple[str, str]] = []
        self._rng = random.Random(seed)

    # -- crash points
    def arm(self, operation: int | None) -> None:
        """Make mutating operation number ``operation`` (counted from now) raise a crash."""
        self.crash_at = None if operation is None else self.stats.operations + operation

    def tick(self, kind: str, path: str) -> None:
        if self.crash_at is not None and self.stats.operations >= self.crash_at:
            self.crash_at = None
            raise SimulatedCrash(f"crash before {kind} of {path}")
        self.stats.operations += 1

    def crash(self, torn: bool = False) -> None:
        """Lose everything not durable; with ``torn``, keep a random prefix of pending writes."""
        self.stats.crashes += 1
        self.generation += 1
        self.crash_at = None
        survivors: dict[str, Inode] = {}
        for name, inode in self.durable_names.items():
            kept = bytearray(inode.durable)
            if torn and inode.pending:
                keep = self._rng.randrange(len(inode.pending) + 1)
                for i, (op, offset, data) in enumerate(inode.pending[: keep + 1]):
                    written = data
                    if i == keep:  # the write the power cut interrupted: part of its bytes
                        if op != "w" or not data:
                            break
                        written = data[: self._rng.randrange(len(data) + 1)]
                    _apply(kept, op, offset, written)
            survivors[name] = Inode(durable=bytearray(kept), data=bytearray(kept))
        self.names = dict(survivors)
        self.durable_names = dict(survivors)

    # -- FileSystem
    def open(self, path: str, create: bool = True) -> FaultFile:
        inode = self.names.get(path)
        if inode is None:
            if not create:
                raise FileNotFoundError(path)
            self.tick("create", path)
            inode = Inode()
            self.names[path] = inode
        return FaultFile(self, path, inode)

    def exists(self, path: str) -> bool:
        return path in self.names or path in self.dirs

    def remove(self, path: str) -> None:
        if path not in self.names:
            raise FileNotFoundError(path)
        self.tick("remove", path)
        del self.names[path]

    def rename(self, src: str, dst: str) -> None:
        if src not in self.names:
            raise FileNotFoundError(src)
        self.tick("rename", src)
        self.names[dst] = self.names.pop(src)

    def listdir(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return sorted(
            name[len(prefix) :]
            for name in self.names
            if name.startswith(prefix) and "/" not in name[len(prefix) :]
        )

    def makedirs(self, path: str) -> None:
        self.dirs.add(path)

    def sync_dir(self, path: str) -> None:
        self.tick("sync_dir", path)
        prefix = path.rstrip("/") + "/"
        durable = {n: i for n, i in self.durable_names.items() if not n.startswith(prefix)}
        durable.update({n: i for n, i in self.names.items() if n.startswith(prefix)})
        self.durable_names = durable

    # -- inspection for tests
    def read_file(self, path: str) -> bytes:
        return bytes(self.names[path].data)

    def write_file(self, path: str, data: bytes) -> None:
        """Replace a file's bytes, durably (for corruption tests)."""
        inode = self.names[path]
        inode.data = bytearray(data)
        inode.durable = bytearray(data)
        inode.pending.clear()

    def files(self) -> Iterable[str]:
        return sorted(self.names)


def _apply(buffer: bytearray, op: str, offset: int, data: bytes) -> None:
    if op == "t":
        del buffer[offset:]
        return
    if len(buffer) < offset:
        buffer.extend(bytes(offset - len(buffer)))
    buffer[offset : offset + len(data)] = data


def join(directory: str | Path, name: str) -> str:
    return f"{str(directory).rstrip('/')}/{name}"
