"""Start ``archlab stream serve`` as a child process on a free loopback port, for client tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    def __init__(self, directory: Path, port: int, partitions: int = 1, brokers: int = 1) -> None:
        self.directory = directory
        self.port = port
        self.partitions = partitions
        self.brokers = brokers
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []  # what the broker printed before it was listening

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "archlab",
                "stream",
                "serve",
                "--dir",
                str(self.directory),
                "--port",
                str(self.port),
                "--partitions",
                str(self.partitions),
                "--brokers",
                str(self.brokers),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 20
        listening = 0
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            self.lines.append(line)
            if "listening on" in line:
                if listening == 0 and self.port == 0:
                    self.port = int(line.rsplit(":", 1)[1])
                listening += 1
            if listening == self.brokers:
                return
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError("archlab stream serve did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush beyond what the broker already did."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


@contextmanager
def kafka_server(directory: Path, partitions: int = 1, brokers: int = 1) -> Iterator[ServerProcess]:
    server = ServerProcess(directory, 0, partitions, brokers)  # 0: the broker picks free ports
    server.start()
    try:
        yield server
    finally:
        server.stop()
