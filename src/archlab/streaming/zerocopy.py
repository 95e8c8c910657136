"""Serving a file over TCP with ``sendfile`` vs ``read()`` + ``send()`` (codex 7.1).

The codex (§7.1) credits part of Kafka's throughput to ``sendfile``: the kernel moves bytes
from the page cache to the socket without copying them through the application. This module
serves one file to a local TCP client both ways and measures, on the sending side only,
throughput and the CPU time it spent (``getrusage`` of the sending thread). The client runs in
a separate process so that its own copying does not count against the sender.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import socket
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Literal

Method = Literal["sendfile", "read_send"]
METHODS: tuple[Method, ...] = ("sendfile", "read_send")
_RUSAGE = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)


@dataclass(frozen=True)
class ServeRun:
    method: Method
    bytes_sent: int
    seconds: float
    cpu_seconds: float

    @property
    def mb_per_s(self) -> float:
        return self.bytes_sent / self.seconds / 1e6

    @property
    def cpu_s_per_gb(self) -> float:
        return self.cpu_seconds / (self.bytes_sent / 1e9)


def _drain_forever(results: Connection) -> None:
    """Client process: accept each connection, read it to EOF, report the byte count."""
    listener = socket.create_server(("127.0.0.1", 0))
    results.send(listener.getsockname()[1])
    buffer = bytearray(1 << 20)
    while True:
        conn, _ = listener.accept()
        with conn:
            received = 0
            while n := conn.recv_into(buffer):
                received += n
        results.send(received)


class Receiver:
    """A local TCP client process that drains whatever is sent to it."""

    def __init__(self) -> None:
        ours, theirs = mp.Pipe()
        self._results = ours
        context = mp.get_context("spawn")
        self._process = context.Process(target=_drain_forever, args=(theirs,), daemon=True)
        self.address = ("127.0.0.1", 0)

    def __enter__(self) -> Receiver:
        self._process.start()
        self.address = ("127.0.0.1", self.received())
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._process.terminate()
        self._process.join(timeout=5)

    def received(self, timeout: float = 30.0) -> int:
        if not self._results.poll(timeout):
            raise TimeoutError("the receiving process reported nothing")
        return int(self._results.recv())


def serve_once(
    path: Path, address: tuple[str, int], method: Method, passes: int, buffer_size: int
) -> ServeRun:
    """Send the whole file ``passes`` times over one connection; time it and its CPU."""
    size = path.stat().st_size
    with socket.create_connection(address) as sock, open(path, "rb", buffering=0) as f:
        fd_in = f.fileno()
        before = resource.getrusage(_RUSAGE)
        started = time.perf_counter()
        if method == "sendfile":
            fd_out = sock.fileno()
            for _ in range(passes):
                offset = 0
                while offset < size:
                    offset += os.sendfile(fd_out, fd_in, offset, size - offset)
        else:
            buffer = bytearray(buffer_size)
            view = memoryview(buffer)
            for _ in range(passes):
                f.seek(0)
                while n := f.readinto(buffer):
                    sock.sendall(view[:n])
        sock.shutdown(socket.SHUT_WR)
        seconds = time.perf_counter() - started
        after = resource.getrusage(_RUSAGE)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return ServeRun(method, size * passes, seconds, cpu)


def make_payload(path: Path, size: int) -> None:
    """Write ``size`` random bytes to ``path`` and read them once so the page cache holds them."""
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as f:
        written = 0
        while written < size:
            written += f.write(chunk[: min(len(chunk), size - written)])
    with open(path, "rb") as f:
        while f.read(1 << 22):
            pass
