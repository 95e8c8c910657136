"""A simulated disk with explicit fsync: a crash keeps only what was synced.

Files hold bytes. Writes, appends and truncations change a file at once, as the page cache
does, and are *pending* until :meth:`Disk.fsync` makes them durable. The namespace (which
names exist and which file each names) is journaled: any fsync also makes every create,
rename and delete made so far durable, as ext4's ordered mode does for the directory entries
of synced files.

:meth:`Disk.crash` throws away everything pending: names come back as they were at the last
fsync and each file's contents as of its last fsync. With ``torn=True`` the crash instead
persists a random prefix of each file's pending writes, the last of which is *torn* (only a
random prefix of its bytes reaches the disk), which is what a power cut in the middle of
write-back does. Protocols detect torn records with checksums (:mod:`archlab.sim.records`).
:meth:`Disk.wipe` is the volatile restart: a new, empty disk.

Time is not modelled here: the host charges the sync latency (see :mod:`archlab.sim.host`).
Files are addressed by name; each name points to an inode, so a rename moves data and its
pending writes together.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from archlab.errors import ConfigError

_Write = tuple[int, bytes]  # (offset, data)
_Truncate = int  # new size
_Op = _Write | _Truncate


class _Inode:
    __slots__ = ("data", "durable", "pending")

    def __init__(self) -> None:
        self.data = bytearray()
        self.durable = bytearray()
        self.pending: list[_Op] = []


def _apply(buffer: bytearray, op: _Op) -> None:
    if isinstance(op, int):
        del buffer[op:]
        return
    offset, data = op
    if offset > len(buffer):
        buffer.extend(bytes(offset - len(buffer)))
    buffer[offset : offset + len(data)] = data


@dataclass
class CrashReport:
    """What a crash did to the disk: pending bytes lost and writes torn."""

    lost_writes: int = 0
    lost_bytes: int = 0
    torn_writes: int = 0
    kept_writes: int = 0


@dataclass
class DiskStats:
    writes: int = 0
    bytes_written: int = 0
    fsyncs: int = 0
    crashes: int = 0
    wipes: int = 0
    reports: list[CrashReport] = field(default_factory=list)


class Disk:
    """Named byte files with page-cache semantics and explicit durability (see module doc)."""

    def __init__(self) -> None:
        self._inodes: dict[int, _Inode] = {}
        self._names: dict[str, int] = {}
        self._durable_names: dict[str, int] = {}
        self._next_inode = 1
        self.stats = DiskStats()

    # -- namespace ------------------------------------------------------------------------

    def exists(self, path: str) -> bool:
        return path in self._names

    def listdir(self, prefix: str = "") -> list[str]:
        """Names starting with ``prefix``, sorted."""
        return sorted(n for n in self._names if n.startswith(prefix))

    def _inode(self, path: str, create: bool = False) -> _Inode:
        number = self._names.get(path)
        if number is None:
            if not create:
                raise FileNotFoundError(path)
            number = self._next_inode
            self._next_inode += 1
            self._inodes[number] = _Inode()
            self._names[path] = number
        return self._inodes[number]

    def create(self, path: str) -> None:
        """Create an empty file if ``path`` does not exist."""
        self._inode(path, create=True)

    def delete(self, path: str) -> None:
        if path not in self._names:
            raise FileNotFoundError(path)
        del self._names[path]

    def rename(self, src: str, dst: str) -> None:
        """Atomically point ``dst`` at ``src``'s file (replacing ``dst``), as rename(2)."""
        if src not in self._names:
            raise FileNotFoundError(src)
        self._names[dst] = self._names.pop(src)

    # -- data ---------------------------------------------------------------------------

    def write(self, path: str, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset`` (creating the file; a gap reads as zero bytes)."""
        if offset < 0:
            raise ValueError(f"negative offset {offset}")
        inode = self._inode(path, create=True)
        op = (offset, bytes(data))
        _apply(inode.data, op)
        inode.pending.append(op)
        self.stats.writes += 1
        self.stats.bytes_written += len(data)

    def append(self, path: str, data: bytes) -> int:
        """Write ``data`` at the end of the file; returns the offset it was written at."""
        offset = len(self._inode(path, create=True).data)
        self.write(path, offset, data)
        return offset

    def truncate(self, path: str, size: int) -> None:
        """Cut the file to ``size`` bytes (a no-op if it is shorter)."""
        if size < 0:
            raise ValueError(f"negative size {size}")
        inode = self._inode(path, create=True)
        if size < len(inode.data):
            del inode.data[size:]
            inode.pending.append(size)

    def read(self, path: str, offset: int = 0, size: int | None = None) -> bytes:
        data = self._inode(path).data
        end = len(data) if size is None else offset + size
        return bytes(data[offset:end])

    def size(self, path: str) -> int:
        return len(self._inode(path).data)

    def replace(self, path: str, data: bytes) -> None:
        """Write a whole new file atomically: a temporary file renamed over ``path``.

        Durable after the next :meth:`fsync` (of ``path`` or of everything). A crash before it
        leaves the previous contents, never a mixture.
        """
        tmp = f"{path}.tmp"
        if tmp in self._names:
            del self._names[tmp]
        self.write(tmp, 0, data)
        self.rename(tmp, path)

    # -- durability -----------------------------------------------------------------------

    def fsync(self, path: str | None = None) -> None:
        """Make ``path``'s data (every file's, when None) and the whole namespace durable."""
        self.stats.fsyncs += 1
        targets = list(self._inodes.values()) if path is None else [self._inode(path)]
        for inode in targets:
            for op in inode.pending:
                _apply(inode.durable, op)
            inode.pending.clear()
        self._durable_names = dict(self._names)
        self._collect()

    def durable_read(self, path: str) -> bytes | None:
        """What a crash right now would leave in ``path`` (None: the name would not exist)."""
        number = self._durable_names.get(path)
        return None if number is None else bytes(self._inodes[number].durable)

    @property
    def dirty(self) -> bool:
        """Whether anything written is not yet durable."""
        return self._names != self._durable_names or any(i.pending for i in self._inodes.values())

    def crash(self, rng: random.Random | None = None, torn: bool = False) -> CrashReport:
        """Lose what was not synced (see the module docstring for ``torn``)."""
        if torn and rng is None:
            raise ConfigError("a torn-write crash needs a random stream")
        report = CrashReport()
        self._names = dict(self._durable_names)
        for inode in self._inodes.values():
            keep = 0
            if torn and rng is not None and inode.pending:
                keep = rng.randrange(len(inode.pending))
            for i, op in enumerate(inode.pending):
                size = len(op[1]) if isinstance(op, tuple) else 0
                if i < keep:
                    _apply(inode.durable, op)
                    report.kept_writes += 1
                elif i == keep and torn and rng is not None and isinstance(op, tuple):
                    cut = rng.randrange(len(op[1])) if op[1] else 0
                    _apply(inode.durable, (op[0], op[1][:cut]))
                    report.torn_writes += 1
                    report.lost_bytes += size - cut
                else:
                    report.lost_writes += 1
                    report.lost_bytes += size
            inode.pending.clear()
            inode.data = bytearray(inode.durable)
        self._collect()
        self.stats.crashes += 1
        self.stats.reports.append(report)
        return report

    def wipe(self) -> None:
        """Replace the disk by an empty one (a volatile restart, a new machine)."""
        self._inodes.clear()
        self._names.clear()
        self._durable_names.clear()
        self.stats.wipes += 1

    def _collect(self) -> None:
        """Forget inodes no name (current or durable) points to any more."""
        live = set(self._names.values()) | set(self._durable_names.values())
        for number in [n for n in self._inodes if n not in live]:
            del self._inodes[number]
