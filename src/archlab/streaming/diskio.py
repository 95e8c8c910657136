"""Sequential appends vs writes at random offsets on a real file (codex 7.1).

Kafka's log is an append-only file because, the codex says (§7.1), a disk writes sequentially
much faster than it writes at random places. Whether a test sees that depends on what stands
between the program and the device, so :func:`measure_writes` writes the same bytes in the
same I/O size in four ways:

``page_cache``
    plain ``pwrite``, timed without any sync: the page cache absorbs everything (a contrast,
    not a disk measurement);
``writeback``
    plain ``pwrite`` then one ``fsync`` inside the timing: the kernel writes dirty pages back
    and can merge adjacent ones into large I/Os;
``fsync_each``
    ``pwrite`` + ``fdatasync`` per write: every write is a device round trip (a durable log
    with no group commit, or a B-tree writing pages in place);
``direct``
    ``O_DIRECT`` with an aligned buffer, no page cache at all (where the filesystem allows it).

Both patterns write into files filled with real data first, so the comparison is about the
order of offsets only: random writes go to uniformly chosen, aligned offsets, sequential writes
go one after another from the start (as a log that preallocates its segments does). Appending
to a file that grows is measured separately (``grow=True``): with a sync per write, each append
also makes the filesystem commit the new file size, a cost the pattern itself does not have.
"""

from __future__ import annotations

import mmap
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Pattern = Literal["sequential", "random"]
Mode = Literal["page_cache", "writeback", "fsync_each", "direct"]
MODES: tuple[Mode, ...] = ("page_cache", "writeback", "fsync_each", "direct")

_FILL_CHUNK = 1 << 20


@dataclass(frozen=True)
class WriteRun:
    pattern: Pattern
    mode: Mode
    io_size: int
    ops: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        return self.io_size * self.ops / self.seconds / 1e6 if self.seconds > 0 else float("inf")


def filesystem_of(path: Path) -> str:
    """The filesystem type of the mount holding ``path`` (from ``/proc/mounts``)."""
    best, fstype = "", "unknown"
    target = str(path.resolve())
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return fstype
    for line in lines:
        parts = line.split()
        if len(parts) >= 3:
            mount = parts[1]
            inside = target == mount or target.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) > len(best):
                best, fstype = mount, parts[2]
    return fstype


def direct_io_supported(directory: Path, io_size: int = 4096) -> bool:
    """Whether an aligned ``O_DIRECT`` write works in ``directory`` (tmpfs refuses it)."""
    flag = getattr(os, "O_DIRECT", None)
    if flag is None:
        return False
    probe = directory / ".direct-probe"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | flag, 0o600)
    except OSError:
        return False
    try:
        buffer = mmap.mmap(-1, io_size)
        os.pwritev(fd, [buffer], 0)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
        probe.unlink(missing_ok=True)


def prepare_target(path: Path, size: int) -> None:
    """Fill ``path`` with ``size`` bytes of data and make it durable (untimed set-up)."""
    chunk = os.urandom(_FILL_CHUNK)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        written = 0
        while written < size:
            written += os.write(fd, chunk[: min(_FILL_CHUNK, size - written)])
        os.fsync(fd)
    finally:
        os.close(fd)


def measure_writes(  # noqa: PLR0912 - one branch per write path to the device and pattern, measured in one loop for fairness
    path: Path,
    *,
    pattern: Pattern,
    mode: Mode,
    io_size: int,
    ops: int,
    file_size: int,
    rng: random.Random,
    grow: bool = False,
) -> WriteRun:
    """Write ``ops`` blocks of ``io_size`` bytes to ``path`` and time it.

    ``path`` must already hold ``file_size`` bytes (see :func:`prepare_target`), except with
    ``grow``, where sequential writes append to a new, empty file created here.
    """
    if io_size % 4096:
        raise ValueError("io_size must be a multiple of 4096 (O_DIRECT alignment)")
    flags = os.O_WRONLY
    if grow:
        if pattern != "sequential":
            raise ValueError("only sequential writes can grow a file")
        flags |= os.O_CREAT | os.O_TRUNC
    elif ops * io_size > file_size and pattern == "sequential":
        raise ValueError("sequential writes would run past the prepared file")
    if mode == "direct":
        flags |= os.O_DIRECT
    blocks = file_size // io_size
    if pattern == "random" and blocks < 1:
        raise ValueError("file_size is smaller than one I/O")
    offsets = (
        [i * io_size for i in range(ops)]
        if pattern == "sequential"
        else [rng.randrange(blocks) * io_size for _ in range(ops)]
    )
    buffer = mmap.mmap(-1, io_size)  # page-aligned, as O_DIRECT requires
    buffer.write(os.urandom(io_size))
    view = [buffer]
    fd = os.open(path, flags, 0o600)
    try:
        started = time.perf_counter()
        if mode == "fsync_each":
            for offset in offsets:
                os.pwritev(fd, view, offset)
                os.fdatasync(fd)
        else:
            for offset in offsets:
                os.pwritev(fd, view, offset)
            if mode == "writeback":
                os.fsync(fd)
        seconds = time.perf_counter() - started
        if mode == "page_cache":
            os.fsync(fd)  # untimed: do not leave dirty pages to slow the next measurement
    finally:
        os.close(fd)
        buffer.close()
    return WriteRun(pattern, mode, io_size, ops, seconds)
