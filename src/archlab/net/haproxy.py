"""HAProxy as a child process: the real peer ``archlab bench lb`` measures the proxies against.

``mode tcp`` or ``mode http``, ``nbthread 1``, one server line per backend, round-robin,
keep-alive to the servers (HAProxy's default ``http-reuse safe``), no logging.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from archlab.errors import UnavailableError
from archlab.net.processes import Child, pinned

HAPROXY = "/usr/sbin/haproxy"


def haproxy_binary() -> str | None:
    found = shutil.which("haproxy")
    if found:
        return found
    return HAPROXY if Path(HAPROXY).exists() else None


def config(mode: str, port: int, backends: Sequence[str]) -> str:
    servers = "\n".join(f"    server s{i} {b}" for i, b in enumerate(backends))
    http = "    option http-keep-alive\n" if mode == "http" else ""
    return f"""global
    nbthread 1
    maxconn 4000
defaults
    mode {mode}
    timeout connect 2s
    timeout client 30s
    timeout server 30s
{http}frontend front
    bind 127.0.0.1:{port}
    default_backend pool
backend pool
    balance roundrobin
{servers}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_haproxy(
    mode: str, backends: Sequence[str], scratch: Path, cpus: str | None = None
) -> Child:
    binary = haproxy_binary()
    if binary is None:
        raise UnavailableError("haproxy is not installed (apt-get install haproxy)")
    port = _free_port()
    path = scratch / f"haproxy-{mode}.cfg"
    path.write_text(config(mode, port, backends))
    process = subprocess.Popen(
        pinned([binary, "-db", "-f", str(path)], cpus),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UnavailableError(f"haproxy exited with {process.returncode} on {path}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return Child(f"haproxy {mode}", process, port)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise UnavailableError("haproxy did not start listening within 10 s")
