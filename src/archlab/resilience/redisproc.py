"""A real ``redis-server`` on a free loopback port, started and stopped by archlab (9.3).

The rate-limit tests, experiments and benchmark run against the real server (Debian's
``redis-server``), never an imitation. :class:`RedisServer` starts one with persistence off in
a scratch directory, waits until it answers ``PING``, and stops it on exit; a missing binary
is a :class:`~archlab.errors.ConfigError` saying how to install it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from archlab.errors import ConfigError


def redis_available() -> bool:
    """Whether ``redis-server`` is on the PATH and the ``redis`` client imports."""
    try:
        import redis  # noqa: F401
    except ImportError:
        return False
    return shutil.which("redis-server") is not None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """``with RedisServer() as server: redis.Redis(port=server.port)``."""

    def __init__(self, start_timeout: float = 10.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ConfigError(
                "redis-server is not installed (Debian: apt-get install redis-server); "
                "the Redis-backed limiter needs a real server"
            )
        self.binary = binary
        self.start_timeout = start_timeout
        self.port = 0
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self._dir = Path(tempfile.mkdtemp(prefix="archlab-redis-"))
        for _ in range(5):
            self.port = _free_port()
            self._proc = subprocess.Popen(
                [
                    self.binary,
                    "--port", str(self.port),
                    "--bind", "127.0.0.1",
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", str(self._dir),
                    "--daemonize", "no",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            if self._wait_ready():
                return self
            self._proc.kill()
            self._proc.wait()
        raise ConfigError(f"redis-server did not start on loopback within {self.start_timeout} s")

    def _wait_ready(self) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
