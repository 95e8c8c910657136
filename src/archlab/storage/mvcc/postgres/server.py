"""A private PostgreSQL server for the differential checks (codex 4.3).

:class:`PostgresServer` runs ``initdb`` into a temporary directory and ``pg_ctl start`` on a
free loopback port, with trust authentication and a Unix socket inside that directory, so it
touches nothing of a system cluster. PostgreSQL refuses to run as root: when this process is
root, the server's files belong to the ``postgres`` account (created by Debian's package) and
its commands run as that user through ``runuser``.

Settings that make the comparison fair and quick: ``deadlock_timeout`` short, autovacuum off
(the bloat comparison runs ``VACUUM`` itself, as the archlab side does), ``fsync`` off (no
claim here is about durability). :func:`find_binaries` says why a server cannot be had, and
the callers report that reason instead of a verdict they could not measure.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from archlab.errors import ArchlabError

#: server settings for every run (see the module docstring)
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "autovacuum": "off",
    "deadlock_timeout": "200ms",
    "max_connections": "20",
    "shared_buffers": "16MB",
}


class PostgresUnavailable(ArchlabError):
    """No PostgreSQL server can be started here; the message says why."""

    exit_code = 3


@dataclass(frozen=True)
class Binaries:
    initdb: Path
    pg_ctl: Path
    run_as: str | None  # the account to run them as (None: this process's own)


def find_binaries() -> Binaries:
    """The server's programs and the account to run them as, or :class:`PostgresUnavailable`."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise PostgresUnavailable(
            "the PostgreSQL client library psycopg is not installed (pip install 'psycopg[binary]')"
        ) from None
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.insert(0, on_path)
    if not candidates:
        raise PostgresUnavailable(
            "no PostgreSQL server is installed (Debian: apt-get install postgresql)"
        )
    initdb = Path(candidates[0])
    pg_ctl = initdb.with_name("pg_ctl")
    run_as: str | None = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable(
                "running as root and there is no 'postgres' account to run the server as"
            ) from None
        if shutil.which("runuser") is None:
            raise PostgresUnavailable("running as root and 'runuser' is not available")
        run_as = "postgres"
    return Binaries(initdb, pg_ctl, run_as)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresServer:
    """A throwaway PostgreSQL server: ``with PostgresServer() as pg: pg.connect()``."""

    def __init__(self, binaries: Binaries | None = None) -> None:
        self.binaries = binaries or find_binaries()
        self.port = 0
        self.version = "PostgreSQL"
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._started = False

    @property
    def data_dir(self) -> Path:
        if self._dir is None:
            raise RuntimeError("the server has not been started")
        return Path(self._dir.name) / "data"

    def _run(self, *args: str | Path) -> None:
        command = [str(a) for a in args]
        if self.binaries.run_as is not None:
            command = ["runuser", "-u", self.binaries.run_as, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise PostgresUnavailable(f"{Path(command[0]).name} failed: {tail[0]}")

    def start(self) -> PostgresServer:
        self._dir = tempfile.TemporaryDirectory(prefix="archlab-pg-")
        root = Path(self._dir.name)
        if self.binaries.run_as is not None:
            account = pwd.getpwnam(self.binaries.run_as)
            os.chown(root, account.pw_uid, account.pw_gid)
        self._run(
            self.binaries.initdb,
            "-D",
            self.data_dir,
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
            "--no-sync",
        )
        self.port = _free_port()
        options = " ".join(f"-c {k}={v}" for k, v in SETTINGS.items())
        options += f" -c unix_socket_directories={root} -p {self.port}"
        self._run(
            self.binaries.pg_ctl, "-D", self.data_dir, "-l", root / "server.log",
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        self._started = True
        with self.connect() as connection:
            row = connection.execute("SHOW server_version").fetchone()
        self.version = f"PostgreSQL {str(row[0]).split()[0]}" if row else "PostgreSQL"
        return self

    def stop(self) -> None:
        if self._started:
            with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
                self._run(self.binaries.pg_ctl, "-D", self.data_dir, "-m", "immediate", "stop")
            self._started = False
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def connect(self, *, autocommit: bool = True) -> Any:
        """A new ``psycopg.Connection`` to the server."""
        import psycopg

        return psycopg.connect(self.conninfo(), autocommit=autocommit)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def postgres_or_reason() -> Iterator[PostgresServer | str]:
    """A started server, or the reason there is none (for experiments that report either)."""
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as reason:
        yield str(reason)
        return
    try:
        yield server
    finally:
        server.stop()
