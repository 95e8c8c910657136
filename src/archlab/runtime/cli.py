"""``archlab cluster``: run the replicated key-value store as real processes on this machine.

``up`` starts N server processes on loopback (:mod:`archlab.runtime.cluster`) and waits for a
leader; ``put`` / ``get`` / ``cas`` talk to it through
:class:`~archlab.runtime.client.ClusterClient` (leader discovery, redirects, retries of the same
session sequence number, a clear timeout); ``status`` shows every node; ``kill`` and ``start``
crash and restart one node; ``down`` stops them all (``--wipe`` also deletes their data).

Exit codes: 0 done; 1 a compare-and-set whose compare failed; 2 bad input (no cluster in the
directory, a port in use, an empty key ...); 3 unavailable: no definite answer before the
timeout (no leader, no majority), so the operation may or may not have taken effect. Errors are
one line on stderr; while an operation waits for the cluster it says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from archlab.consensus.client import KVOperation, Reply, Value
from archlab.errors import ArchlabError, ConfigError
from archlab.runtime.client import ClusterClient, OutcomeUnknown

if TYPE_CHECKING:
    from archlab.runtime.cluster import ClusterSpec

T = TypeVar("T")
DEFAULT_DIR = ".archlab-cluster"

_dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DIR,
    show_default=True,
    help="The cluster's directory (cluster.json, one data directory and log per node).",
)
_timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds to keep trying (redirects, elections) before giving up (exit 3).",
)
#: After this long without an answer, an operation says that it is waiting.
WAITING_NOTICE_S = 0.5


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def parse_value(text: str) -> Value:
    """A JSON scalar if ``text`` is one (``1``, ``2.5``, ``true``, ``null``), else the text."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return text


_PROTOCOLS = ["raft", "paxos", "zab"]


def _show(value: Value) -> str:
    return json.dumps(value)


@click.group("cluster")
def cluster() -> None:
    """Run the replicated key-value store as a real cluster of processes on loopback.

    Each node is a separate process (asyncio over TCP) with its own data directory: a
    write-ahead log and state files, fsynced before anything that depends on them is sent.
    Kill a node and start it again: it recovers from its files and catches up.

    \b
    Examples:
      archlab cluster up raft --nodes 3
      archlab cluster up --protocol zab --nodes 3 --dir /tmp/zk
      archlab cluster put x 1
      archlab cluster cas x 1 2
      archlab cluster get x
      archlab cluster status
      archlab cluster kill 1 && archlab cluster start 1
      archlab cluster down --wipe
    """


@cluster.command("up")
@click.argument(
    "protocol_name", metavar="[PROTOCOL]", required=False, type=click.Choice(_PROTOCOLS)
)
@click.option(
    "--protocol",
    "protocol_option",
    type=click.Choice(_PROTOCOLS),
    default=None,
    help="The replication protocol (also accepted as the first argument; default raft).",
)
@click.option(
    "--nodes",
    type=click.IntRange(1, 15),
    default=3,
    show_default=True,
    help="Server processes; a majority of them must be up for the cluster to answer.",
)
@_dir_option
@click.option(
    "--base-port",
    type=click.IntRange(1, 65535),
    default=7001,
    show_default=True,
    help="Node i listens on BASE_PORT + i - 1.",
)
@click.option(
    "--durability",
    type=click.Choice(["fsync", "none"]),
    default="fsync",
    show_default=True,
    help="fsync: the log is fsynced (group commit) before anything depending on it is sent; "
    "none: writes stay in the page cache (survive a process crash, not a power loss).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=20.0,
    show_default=True,
    help="Seconds to wait for the nodes to elect a leader before giving up (and stopping them).",
)
@click.option(
    "--resp-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Also speak RESP (the Redis protocol) for redis-cli and redis-py: node i listens on "
    "RESP_PORT + i - 1 and proxies each command to the leader.",
)
def up(
    protocol_name: str | None,
    protocol_option: str | None,
    nodes: int,
    directory: Path,
    base_port: int,
    durability: str,
    timeout: float,
    resp_port: int | None,
) -> None:
    """Start NODES server processes of PROTOCOL (raft, paxos or zab; default raft) on
    127.0.0.1 and wait until they elect a leader.

    Every protocol serves the same client protocol and commands (put, get, cas, status, kill,
    start, down) and keeps its state in files in each node's data directory.

    A directory that holds a stopped cluster of the same shape is restarted from its data.
    If the cluster does not come up, its processes are stopped and what this command created
    is removed again (node logs are kept when an error message points to them).

    \b
    Examples:
      archlab cluster up raft
      archlab cluster up raft --nodes 5 --dir /tmp/kv --base-port 9001
      archlab cluster up raft --durability none
      archlab cluster up --protocol paxos --nodes 3 --dir /tmp/px
      archlab cluster up --protocol zab --nodes 5 --dir /tmp/zk
      archlab cluster up raft --resp-port 6380 && redis-cli -p 6380 SET x 1
    """
    if protocol_name and protocol_option and protocol_name != protocol_option:
        raise ConfigError(f"protocol given twice: {protocol_name} and --protocol {protocol_option}")
    protocol = protocol_name or protocol_option or "raft"
    from archlab.runtime.cluster import (
        CLUSTER_FILE,
        create_cluster,
        stop_cluster,
        wait_for_leader,
    )

    created = _first_missing(directory.resolve())
    new_cluster = not (directory / CLUSTER_FILE).exists()
    try:
        spec = create_cluster(
            directory,
            protocol,
            nodes,
            base_port=base_port,
            durability=durability,  # type: ignore[arg-type]
            resp_ports=None if resp_port is None else [resp_port + i for i in range(nodes)],
        )
    except ArchlabError:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    try:
        leader = _run(wait_for_leader(spec, timeout))
    except (ArchlabError, KeyboardInterrupt):
        stop_cluster(spec)
        if new_cluster:
            _remove_new_cluster(spec, created)
        raise
    click.echo(f"{protocol} cluster of {nodes} up in {spec.directory}; node {leader} leads")
    for node in spec.nodes:
        mark = "  (leader)" if node.id == leader else ""
        resp = f"  RESP {node.host}:{node.resp_port}" if node.resp_port is not None else ""
        click.echo(f"  node {node.id}  {node.address}  pid {node.pid}{resp}{mark}")


def _first_missing(path: Path) -> Path | None:
    """The highest directory of ``path`` that does not exist yet (what ``up`` would create)."""
    missing = None
    for candidate in [path, *path.parents]:
        if candidate.exists():
            break
        missing = candidate
    return missing


def _remove_new_cluster(spec: ClusterSpec, created: Path | None) -> None:
    """Undo a new cluster that did not come up: its data and cluster.json, not its logs."""
    from archlab.runtime.cluster import CLUSTER_FILE

    root = Path(spec.directory)
    for node in spec.nodes:
        shutil.rmtree(node.data_dir, ignore_errors=True)
        log = Path(node.log_file)
        if log.exists() and log.stat().st_size == 0:
            log.unlink()
    with contextlib.suppress(FileNotFoundError):
        (root / CLUSTER_FILE).unlink()
    if created is not None and not any(created.rglob("*.log")):
        shutil.rmtree(created, ignore_errors=True)


def _key(key: str) -> str:
    if not key:
        raise ConfigError("the key is empty; give a KEY such as x")
    return key


def _client(directory: Path, timeout: float) -> ClusterClient:
    from archlab.runtime.cluster import ClusterError, ClusterSpec, node_running

    spec = ClusterSpec.load(directory)
    if not any(node_running(n) for n in spec.nodes):
        raise ClusterError(f"the cluster in {directory} is not running ('archlab cluster up')")
    return ClusterClient(spec.addresses, timeout=timeout)


def _execute(directory: Path, timeout: float, op: KVOperation) -> Reply:
    async def go() -> Reply:
        async with _client(directory, timeout) as client:
            try:
                task = asyncio.ensure_future(client.execute(op))
                done, _ = await asyncio.wait({task}, timeout=WAITING_NOTICE_S)
                if not done:
                    click.echo(
                        f"archlab: waiting for the cluster in {directory} to answer "
                        f"(no leader or no majority yet; giving up after {timeout:g} s) ...",
                        err=True,
                    )
                return await task
            except OutcomeUnknown as exc:
                raise OutcomeUnknown(
                    f"{exc}; the operation may or may not have taken effect"
                ) from None

    return _run(go())


def _check(reply: Reply) -> None:
    if reply.outcome != "ok" and reply.error is not None:
        raise ArchlabError(f"the cluster refused the operation: {reply.error}")


@cluster.command("put")
@click.argument("key")
@click.argument("value")
@_dir_option
@_timeout_option
def put(key: str, value: str, directory: Path, timeout: float) -> None:
    """Set KEY to VALUE (a JSON scalar such as 1, 2.5, true, null, "text"; else plain text).

    \b
    Examples:
      archlab cluster put x 1
      archlab cluster put greeting hello
    """
    from archlab.consensus.client import Write

    reply = _execute(directory, timeout, Write(_key(key), parse_value(value)))
    _check(reply)
    click.echo(f"{key} = {_show(reply.value)}")


@cluster.command("get")
@click.argument("key")
@_dir_option
@_timeout_option
def get(key: str, directory: Path, timeout: float) -> None:
    """Print KEY's value (null when absent), read linearizably from the leader.

    \b
    Examples:
      archlab cluster get x
    """
    from archlab.consensus.client import Read

    reply = _execute(directory, timeout, Read(_key(key)))
    _check(reply)
    click.echo(_show(reply.value))


@cluster.command("cas")
@click.argument("key")
@click.argument("expected")
@click.argument("new")
@_dir_option
@_timeout_option
def cas(key: str, expected: str, new: str, directory: Path, timeout: float) -> None:
    """Set KEY to NEW if its value is EXPECTED; exit 1 (changing nothing) if it is not.

    \b
    Examples:
      archlab cluster cas x 1 2
      archlab cluster cas lock null owner-7
    """
    from archlab.consensus.client import Cas

    reply = _execute(directory, timeout, Cas(_key(key), parse_value(expected), parse_value(new)))
    _check(reply)
    if reply.outcome == "ok":
        click.echo(f"{key} = {_show(reply.value)}")
        return
    click.echo(f"cas failed: {key} is {_show(reply.value)}, not {_show(parse_value(expected))}")
    raise SystemExit(1)


@cluster.command("status")
@_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per node, as a list.")
def status(directory: Path, as_json: bool) -> None:
    """Show every node: process, role, term, leader, commit and applied index.

    \b
    Examples:
      archlab cluster status
      archlab cluster status --json | jq '.[] | select(.role == "leader")'
    """
    from archlab.runtime.cluster import ClusterSpec, cluster_status

    spec = ClusterSpec.load(directory)
    rows = _run(cluster_status(spec))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{spec.protocol} cluster in {spec.directory} (durability {spec.durability})")
    header = ("node", "address", "pid", "state", "role", "term", "leader", "commit", "applied")
    click.echo("  ".join(f"{h:>9}" if i else f"{h:>4}" for i, h in enumerate(header)))
    for row in rows:
        cells = ["-" if row.get(h) is None else str(row.get(h)) for h in header]
        click.echo("  ".join(f"{c:>9}" if i else f"{c:>4}" for i, c in enumerate(cells)))


@cluster.command("kill")
@click.argument("node", type=int)
@_dir_option
def kill(node: int, directory: Path) -> None:
    """Crash NODE with SIGKILL (no clean shutdown: what it had not fsynced may be lost).

    \b
    Examples:
      archlab cluster kill 2
    """
    from archlab.runtime.cluster import ClusterSpec, kill_node

    spec = ClusterSpec.load(directory)
    kill_node(spec, node)
    click.echo(f"node {node} killed")


@cluster.command("start")
@click.argument("node", type=int)
@_dir_option
def start(node: int, directory: Path) -> None:
    """Start NODE again on its data directory (it recovers from its files and catches up).

    \b
    Examples:
      archlab cluster start 2
    """
    from archlab.runtime.cluster import (
        ClusterError,
        ClusterSpec,
        node_running,
        port_in_use,
        start_node,
    )

    spec = ClusterSpec.load(directory)
    target = spec.node(node)
    if node_running(target):
        raise ClusterError(f"node {node} is already running (pid {target.pid})")
    if port_in_use(target.host, target.port):
        raise ClusterError(f"port {target.port} ({target.address}, node {node}) is in use")
    pid = start_node(spec, node)
    click.echo(f"node {node} started (pid {pid})")


@cluster.command("down")
@_dir_option
@click.option("--wipe", is_flag=True, help="Also delete every node's data, logs and cluster.json.")
def down(directory: Path, wipe: bool) -> None:
    """Stop every node (SIGTERM, then SIGKILL after 3 s).

    \b
    Examples:
      archlab cluster down
      archlab cluster down --wipe
    """
    from archlab.runtime.cluster import ClusterSpec, stop_cluster

    spec = ClusterSpec.load(directory)
    stopped = stop_cluster(spec, wipe=wipe)
    what = f"stopped nodes {stopped}" if stopped else "no node was running"
    click.echo(f"{what}{'; data wiped' if wipe else ''}")
