"""Counting what a photo read costs the kernel (codex 10.4): system calls and disk reads.

:func:`count_syscalls` runs a child Python process that opens a store and reads photos
between two marker calls (``access`` of two impossible paths), under ``strace -f``; the
system calls between the markers, divided by the reads, are the calls per GET, with none of
the interpreter's start-up in them. :func:`cold_disk_reads` drops the kernel's page, dentry
and inode caches (root only), reads photos in this process and takes the read requests the
device completed (``/proc/diskstats``, less those of an equal quiet interval after) and the
bytes this process caused to be read (``/proc/self/io``) per GET.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BEGIN = "/archlab-haystack-probe-begin"
END = "/archlab-haystack-probe-end"


def strace_available() -> bool:
    return shutil.which("strace") is not None


def count_syscalls(
    kind: str, directory: Path, keys: list[tuple[int, int, int]], fanout: int = 256
) -> float:
    """System calls per GET for store ``kind`` ("haystack" or "files") in ``directory``."""
    key_file = directory.parent / f"{kind}-keys.txt"
    key_file.write_text("\n".join(f"{k} {a} {c}" for k, a, c in keys))
    trace = directory.parent / f"{kind}.strace"
    command = [
        "strace",
        "-f",
        "-qq",
        "-o",
        str(trace),
        sys.executable,
        "-m",
        "archlab.cases.haystack.probe",
        kind,
        str(directory),
        str(key_file),
        str(fanout),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(command, env=env, capture_output=True, timeout=120, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the {kind} probe failed: {done.stderr.strip()[-500:]}")
    inside, calls = False, 0
    for line in trace.read_text().splitlines():
        if BEGIN in line:
            inside = True
        elif END in line:
            break
        elif inside and re.match(r"^\d+\s+\w+\(", line):
            calls += 1
    return calls / len(keys)


@dataclass(frozen=True)
class ColdReads:
    device_reads_per_get: float | None  # None: the device is not in /proc/diskstats
    bytes_read_per_get: float
    ms_per_get: float


def can_drop_caches() -> bool:
    return os.access("/proc/sys/vm/drop_caches", os.W_OK)


def drop_caches() -> None:
    """Empty the kernel's page, dentry and inode caches (root only; slows every process)."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def cold_disk_reads(path: Path, reads: Callable[[], int]) -> ColdReads:
    """Run ``reads`` (which returns how many GETs it made) and count what the device did."""
    device = _device_of(path)
    before_dev, before_io = _device_reads(device), _io_read_bytes()
    start = time.perf_counter()
    count = reads()
    elapsed = time.perf_counter() - start
    after_dev, after_io = _device_reads(device), _io_read_bytes()
    per = 1 / max(1, count)
    device_reads = (
        None if before_dev is None or after_dev is None else (after_dev - before_dev) * per
    )
    return ColdReads(device_reads, (after_io - before_io) * per, 1000 * elapsed * per)


def _device_of(path: Path) -> str | None:
    dev = os.stat(path).st_dev
    wanted = f"{os.major(dev)}:{os.minor(dev)}"
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[2] == wanted:
            source = line.split(" - ", 1)[1].split()[1]
            return (
                os.path.basename(os.path.realpath(source)) if source.startswith("/dev/") else None
            )
    return None


def _device_reads(device: str | None) -> int | None:
    if device is None:
        return None
    for line in Path("/proc/diskstats").read_text().splitlines():
        fields = line.split()
        if fields[2] == device:
            return int(fields[3])
    return None


def _io_read_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("read_bytes:"):
            return int(line.split()[1])
    return 0


def _main(kind: str, directory: str, key_file: str, fanout: str) -> None:
    from archlab.cases.haystack.filestore import FilePerPhotoStore
    from archlab.cases.haystack.volume import Volume

    keys = [tuple(int(x) for x in line.split()) for line in Path(key_file).read_text().splitlines()]
    volume = Volume(directory) if kind == "haystack" else None
    files = FilePerPhotoStore(directory, int(fanout)) if kind == "files" else None
    os.access(BEGIN, os.F_OK)
    for key, alt, cookie in keys:
        data = volume.get(key, alt, cookie) if volume is not None else files.get(key, alt)  # type: ignore[union-attr]
        if data is None:
            raise SystemExit(f"photo {key}/{alt} missing")
    os.access(END, os.F_OK)


if __name__ == "__main__":
    _main(*sys.argv[1:5])
