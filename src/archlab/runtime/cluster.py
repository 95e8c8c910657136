"""Start, find, inspect and stop a cluster of server processes on this machine.

A cluster lives in a directory ``D``:

- ``D/cluster.json`` — the protocol, the durability, and for every node its id, address,
  data directory, log file and the pid of its process (written when the cluster is started,
  updated when a node is restarted);
- ``D/node<i>/`` — node *i*'s data (its :class:`~archlab.runtime.filestore.FileStorage`);
- ``D/node<i>.log`` — its output.

Each node is a detached process (its own session, so closing the terminal that started it does
not stop it) running ``python -m archlab.runtime.serve``. A node restarted on the same data
directory recovers from its files. :func:`stop_cluster` sends SIGTERM, then SIGKILL to
processes that are still there after a grace period; it only signals a pid whose command line is
this cluster's server (a pid reused by an unrelated process is left alone).

Errors a user can cause (no cluster in ``D``, a cluster already running there, a port in use, a
node that does not start) are :class:`~archlab.errors.ArchlabError` with one-line messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archlab.consensus.client import Value
from archlab.errors import ArchlabError, ConfigError
from archlab.runtime.client import ClusterClient
from archlab.runtime.wal import DURABILITIES, Durability

CLUSTER_FILE = "cluster.json"
SERVE_MODULE = "archlab.runtime.serve"
PROTOCOLS = ("raft", "paxos", "zab")


class ClusterError(ArchlabError):
    """A cluster that is missing, already running, or cannot be started or reached."""


@dataclass
class NodeSpec:
    id: int
    host: str
    port: int
    data_dir: str
    log_file: str
    pid: int | None = None
    #: Whether the node was ever started: if so, an empty data directory means lost data.
    started: bool = False
    #: The port it serves Redis clients on (RESP), if any.
    resp_port: int | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class ClusterSpec:
    directory: str
    protocol: str
    durability: Durability
    tick_ms: float
    nodes: list[NodeSpec] = field(default_factory=list)

    @property
    def addresses(self) -> dict[int, tuple[str, int]]:
        return {n.id: (n.host, n.port) for n in self.nodes}

    def node(self, node_id: int) -> NodeSpec:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise ConfigError(f"the cluster in {self.directory} has no node {node_id}")

    def save(self) -> None:
        path = Path(self.directory) / CLUSTER_FILE
        tmp = path.with_name(CLUSTER_FILE + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, directory: str | Path) -> ClusterSpec:
        path = Path(directory) / CLUSTER_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            nodes = [NodeSpec(**n) for n in data.pop("nodes")]
            return cls(**data, nodes=nodes)
        except FileNotFoundError:
            raise ClusterError(
                f"no cluster in {directory} (no {CLUSTER_FILE}); start one with "
                f"'archlab cluster up raft --dir {directory}'"
            ) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise ClusterError(f"{path}: not a cluster description ({exc})") from None


# -- processes -------------------------------------------------------------------------------


def _is_our_server(pid: int) -> bool:
    """Whether ``pid`` is alive and runs this runtime's server (guards against pid reuse)."""
    cmdline = _cmdline(pid)
    if not cmdline:
        # No /proc, or an empty command line: a zombie, or a child caught inside execve. Popen
        # returns once the exec has begun, and the kernel sets the new image's arguments a
        # little later; on a loaded machine a check can land in between. Trust the pid.
        return _alive(pid)
    return SERVE_MODULE.encode() in cmdline and b"<defunct>" not in cmdline


def _cmdline(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def node_running(node: NodeSpec) -> bool:
    if node.pid is None or not _is_our_server(node.pid):
        return False
    try:
        state = Path(f"/proc/{node.pid}/stat").read_text().split()[2]
    except (OSError, IndexError):
        return True
    return state != "Z"


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ports the kernel says are free now (for tests and benchmarks)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start_node(spec: ClusterSpec, node_id: int) -> int:
    """Start (or restart) node ``node_id`` as a detached process; returns its pid."""
    node = spec.node(node_id)
    if node_running(node):
        raise ClusterError(f"node {node_id} is already running (pid {node.pid})")
    peers = ",".join(f"{n.id}={n.address}" for n in spec.nodes)
    command = [
        sys.executable,
        "-m",
        SERVE_MODULE,
        "--protocol",
        spec.protocol,
        "--id",
        str(node.id),
        "--peers",
        peers,
        "--data-dir",
        node.data_dir,
        "--durability",
        spec.durability,
        "--tick-ms",
        str(spec.tick_ms),
        *(["--expect-state"] if node.started else []),
        *(["--resp-port", str(node.resp_port)] if node.resp_port is not None else []),
    ]
    with open(node.log_file, "ab") as out:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    node.pid = proc.pid
    node.started = True
    spec.save()
    # The child is detached: nobody waits for it here, so reap it if it exits while we live.
    _ADOPTED.append(proc)
    return proc.pid


_ADOPTED: list[subprocess.Popen[bytes]] = []


def kill_node(spec: ClusterSpec, node_id: int, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to node ``node_id`` (SIGKILL: a crash) and wait until it is gone."""
    node = spec.node(node_id)
    if node.pid is None or not _is_our_server(node.pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(node.pid, sig)
    _wait_gone(node.pid, 5.0)
    node.pid = None
    spec.save()


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in _ADOPTED:
            if proc.pid == pid:
                proc.poll()
        if not _is_our_server(pid) or _zombie(pid):
            return True
        time.sleep(0.01)
    return False


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except (OSError, IndexError):
        return False


# -- the cluster -----------------------------------------------------------------------------


def create_cluster(
    directory: str | Path,
    protocol: str = "raft",
    nodes: int = 3,
    *,
    base_port: int = 7001,
    host: str = "127.0.0.1",
    durability: Durability = "fsync",
    tick_ms: float = 10.0,
    ports: list[int] | None = None,
    resp_ports: list[int] | None = None,
) -> ClusterSpec:
    """Validate, lay out the directory and start every node (does not wait for a leader).

    ``resp_ports``: node i also serves Redis clients on ``resp_ports[i - 1]``.
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    if nodes < 1 or nodes > 15:
        raise ConfigError(f"--nodes must be between 1 and 15, got {nodes}")
    if durability not in DURABILITIES:
        raise ConfigError(f"durability must be one of {', '.join(DURABILITIES)}")
    root = Path(directory).resolve()
    if (root / CLUSTER_FILE).exists():
        spec = _stopped_cluster(root, protocol, nodes)
    else:
        chosen = ports if ports is not None else [base_port + i for i in range(nodes)]
        spec = _lay_out(root, ClusterSpec(str(root), protocol, durability, tick_ms), host, chosen)
        if resp_ports is not None:
            if len(resp_ports) != nodes:
                raise ConfigError(f"{len(resp_ports)} RESP ports for {nodes} nodes")
            for node, resp_port in zip(spec.nodes, resp_ports, strict=True):
                node.resp_port = resp_port
    for n in spec.nodes:
        for used in (n.port, n.resp_port):
            if used is not None and port_in_use(n.host, used):
                raise ClusterError(f"port {used} ({n.host}, node {n.id}) is in use")
    spec.save()
    for n in spec.nodes:
        start_node(spec, n.id)
    return spec


def _stopped_cluster(root: Path, protocol: str, nodes: int) -> ClusterSpec:
    """The stopped cluster in ``root``, to restart (it must have this shape)."""
    existing = ClusterSpec.load(root)
    running = [n.id for n in existing.nodes if node_running(n)]
    if running:
        raise ClusterError(
            f"a cluster is already running in {root} (nodes {running}); "
            f"'archlab cluster down --dir {root}' first"
        )
    if existing.protocol != protocol or len(existing.nodes) != nodes:
        raise ClusterError(
            f"{root} holds a stopped {len(existing.nodes)}-node {existing.protocol} "
            f"cluster; restart it with the same shape or 'archlab cluster down --wipe'"
        )
    return existing


def _lay_out(root: Path, spec: ClusterSpec, host: str, ports: list[int]) -> ClusterSpec:
    """A new cluster's nodes: node i on ``ports[i - 1]``, its data in ``root/node<i>``."""
    if any(not 0 < p < 65536 for p in ports):
        raise ConfigError(f"ports {ports[0]}..{ports[-1]} are not all valid TCP ports")
    root.mkdir(parents=True, exist_ok=True)
    for i, port in enumerate(ports, 1):
        spec.nodes.append(
            NodeSpec(i, host, port, str(root / f"node{i}"), str(root / f"node{i}.log"))
        )
    return spec


async def cluster_status(spec: ClusterSpec, timeout: float = 0.5) -> list[dict[str, Value]]:
    """One row per node: its process state and, if it answers, what it reports."""

    async def one(node: NodeSpec) -> dict[str, Value]:
        row: dict[str, Value] = {"node": node.id, "address": node.address, "pid": node.pid}
        if not node_running(node):
            row["state"] = "down"
            return row
        client = ClusterClient(spec.addresses, first=node.id)
        try:
            reported = await client.status(node.id, timeout)
        except (OSError, TimeoutError, ConnectionError):
            row["state"] = "not answering"
            return row
        finally:
            await client.close()
        row["state"] = "up"
        row.update(reported)
        return row

    return list(await asyncio.gather(*(one(n) for n in spec.nodes)))


async def wait_for_leader(spec: ClusterSpec, timeout: float = 15.0) -> int:
    """Poll the nodes until one leads and a majority of nodes agree on it; returns its id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node in spec.nodes:
            if node.pid is not None and not node_running(node):
                raise ClusterError(
                    f"node {node.id} exited during startup; see {node.log_file}: "
                    f"{_last_line(node.log_file)}"
                )
        rows = await cluster_status(spec, timeout=0.3)
        leaders = [r["node"] for r in rows if r.get("role") == "leader"]
        hints = [r.get("leader") for r in rows if r.get("state") == "up"]
        if len(leaders) == 1 and hints.count(leaders[0]) > len(spec.nodes) // 2:
            leader = leaders[0]
            assert isinstance(leader, int)
            return leader
        await asyncio.sleep(0.05)
    raise ClusterError(f"no leader elected within {timeout:g} s; see the logs in {spec.directory}")


def _last_line(path: str) -> str:
    try:
        lines = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return lines[-1] if lines else "(empty log)"


def stop_cluster(spec: ClusterSpec, *, wipe: bool = False, grace: float = 3.0) -> list[int]:
    """Stop every node (SIGTERM, then SIGKILL); returns the ids that were running."""
    stopped = []
    for node in spec.nodes:
        if node.pid is not None and _is_our_server(node.pid):
            stopped.append(node.id)
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.pid, signal.SIGTERM)
    for node in spec.nodes:
        if node.id in stopped and node.pid is not None and not _wait_gone(node.pid, grace):
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.pid, signal.SIGKILL)
            _wait_gone(node.pid, grace)
    for node in spec.nodes:
        node.pid = None
    root = Path(spec.directory)
    if wipe:
        for node in spec.nodes:
            shutil.rmtree(node.data_dir, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(node.log_file)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(root / CLUSTER_FILE)
        with contextlib.suppress(OSError):
            root.rmdir()
    else:
        spec.save()
    return stopped


def describe(spec: ClusterSpec) -> dict[str, Any]:
    return asdict(spec)
