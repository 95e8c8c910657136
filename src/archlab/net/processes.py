"""Origins and load balancers as child processes, for experiments and benchmarks.

Each child is ``python -m archlab lb ...`` (or HAProxy) listening on a free loopback port; the
parent reads the ``listening HOST:PORT`` line it prints, can pin it to CPUs with ``taskset``
and reads its CPU time from ``/proc``. Children are always stopped on exit of the ``with``.
"""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from archlab.errors import UnavailableError


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the child has used so far (Linux ``/proc``)."""
        try:
            with open(f"/proc/{self.process.pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            return float("nan")
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def pinned(command: Sequence[str], cpus: str | None) -> list[str]:
    """``command`` under ``taskset -c CPUS`` when asked for and available."""
    if cpus is None or shutil.which("taskset") is None:
        return list(command)
    return ["taskset", "-c", cpus, *command]


def archlab_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "archlab", *args]


def _wait_listening(name: str, process: subprocess.Popen[bytes], timeout: float) -> int:
    assert process.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buffered = b""
    while time.monotonic() < deadline:
        if not sel.select(max(0.0, deadline - time.monotonic())):
            break
        chunk = os.read(process.stdout.fileno(), 4096)
        if not chunk:
            break
        buffered += chunk
        for line in buffered.split(b"\n")[:-1]:
            if b" listening " in line:
                return int(line.rsplit(b":", 1)[1])
    process.kill()
    process.wait(5)
    err = ""
    if process.stderr is not None:
        process.stderr.seek(0)
        err = process.stderr.read().decode(errors="replace")
    raise UnavailableError(f"{name} did not start: {err.strip()[-300:] or 'no output'}")


def start_child(name: str, command: Sequence[str], timeout: float = 15.0) -> Child:
    return start_children([(name, command)], timeout)[0]


def start_children(
    commands: Sequence[tuple[str, Sequence[str]]], timeout: float = 15.0
) -> list[Child]:
    """Start every command at once, then wait for each to listen (start-up overlaps)."""
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    started = []
    for name, command in commands:
        # A pipe nobody reads could fill and stall the child: its log goes to a file it owns.
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in Child.stop
        process = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=log, env=env)
        started.append((name, process))
    children = []
    try:
        for name, process in started:
            children.append(Child(name, process, _wait_listening(name, process, timeout)))
    except BaseException:
        for _, process in started:
            if process.poll() is None:
                process.kill()
                process.wait(5)
        raise
    return children


@contextmanager
def children() -> Iterator[list[Child]]:
    """A list to put started children in; every one is stopped on exit."""
    started: list[Child] = []
    try:
        yield started
    finally:
        for child in reversed(started):
            child.stop()


def origin_command(name: str, cpus: str | None = None) -> list[str]:
    return pinned(archlab_command("lb", "origin", "--name", name, "--port", "0"), cpus)


def proxy_command(
    mode: str,
    backends: Sequence[str],
    routes: Sequence[str] = (),
    cpus: str | None = None,
    policy: str = "round-robin",
) -> list[str]:
    args = ["lb", "serve", "--mode", mode, "--port", "0", "--backends", ",".join(backends)]
    args += ["--policy", policy, "--check-interval", "0"]
    for route in routes:
        args += ["--route", route]
    return pinned(archlab_command(*args), cpus)
