"""The dashboard attached to a real ``archlab cluster`` on loopback (codex 5.3).

The page polls ``GET /api/cluster``: :func:`archlab.runtime.cluster.cluster_status` asks every
node for its status over the client protocol (role, term, leader, commit and applied index),
and a node whose process is gone is shown down. ``kill`` and ``start`` do what ``archlab
cluster kill|start`` do (SIGKILL; a restart on the node's own data directory); ``put`` and
``get`` go through :class:`~archlab.runtime.client.ClusterClient` (leader discovery,
redirects, retries), so the page is one more client of the cluster, nothing more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from archlab.consensus.client import Read, Write
from archlab.errors import ArchlabError
from archlab.runtime.client import ClusterClient, OutcomeUnknown
from archlab.runtime.cluster import (
    ClusterSpec,
    cluster_status,
    kill_node,
    node_running,
    port_in_use,
    start_node,
)


class RealCluster:
    """Request handlers over the cluster in ``directory`` (see the module docstring)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _spec(self) -> ClusterSpec:
        try:
            return ClusterSpec.load(self.directory)
        except ArchlabError:
            raise ArchlabError(
                f"no cluster in {self.directory}: start one with "
                f"'archlab cluster up --dir {self.directory}' (or serve --cluster DIR)"
            ) from None

    async def status(self, request: Request) -> Response:
        try:
            spec = self._spec()
        except ArchlabError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        rows = await cluster_status(spec, timeout=0.5)
        return JSONResponse(
            {
                "protocol": spec.protocol,
                "directory": _shown(spec.directory),
                "durability": spec.durability,
                "nodes": rows,
            }
        )

    async def act(self, request: Request) -> Response:
        data: dict[str, Any] = await request.json()
        op = request.path_params["op"]
        try:
            spec = self._spec()
            if op in ("kill", "start"):
                text = await run_in_threadpool(self._process, spec, op, int(data.get("node", 0)))
            elif op in ("put", "get"):
                text = await self._kv(spec, op, str(data.get("key", "")), data.get("value"))
            else:
                return JSONResponse({"error": f"unknown operation {op!r}"}, status_code=404)
        except (ArchlabError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": text})

    @staticmethod
    def _process(spec: ClusterSpec, op: str, node: int) -> str:
        target = spec.node(node)
        if op == "kill":
            if not node_running(target):
                raise ArchlabError(f"node {node} is not running")
            kill_node(spec, node)
            return f"node {node} killed"
        if node_running(target):
            raise ArchlabError(f"node {node} is already running (pid {target.pid})")
        if port_in_use(target.host, target.port):
            raise ArchlabError(f"port {target.port} (node {node}) is in use")
        pid = start_node(spec, node)
        return f"node {node} started (pid {pid})"

    @staticmethod
    async def _kv(spec: ClusterSpec, op: str, key: str, value: Any) -> str:
        if not key:
            raise ArchlabError("the key is empty")
        command = Read(key) if op == "get" else Write(key, _scalar(value))
        async with ClusterClient(spec.addresses, timeout=3.0) as client:
            try:
                reply = await client.execute(command)
            except OutcomeUnknown as exc:
                raise ArchlabError(f"{exc}; it may or may not have taken effect") from None
        if reply.outcome != "ok":
            raise ArchlabError(f"the cluster refused: {reply.error or reply.outcome}")
        return f"{key} = {reply.value!r}" if op == "get" else f"{key} := {reply.value!r}"


def _shown(directory: str) -> str:
    """``directory`` relative to the working directory when it is inside it."""
    try:
        return Path(directory).relative_to(Path.cwd()).as_posix()
    except ValueError:
        return directory


def _scalar(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    if value is None or isinstance(value, bool | int | float):
        return value
    raise ArchlabError(f"values are numbers or text, got {value!r}")
