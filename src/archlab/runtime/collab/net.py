"""Collaborative editing over real WebSockets: a server and a client (codex 5.4).

Thin asyncio layers around the sans-IO cores, using the ``websockets`` library.

* OT (``--mode ot``): the server holds an :class:`~archlab.collab.ot.jupiter.OTServer`; JSON
  frames ``{"type": "submit", "revision", "op"}`` go in, ``{"type": "op", "client",
  "revision", "op"}`` go to every client (the author takes it as its ack). Without the
  server nothing is committed: a client keeps typing into its buffer and reports how many of
  its edits are uncommitted.
* CRDT (``--mode crdt``): the server is just another replica (a relay peer). A peer says
  hello with its version, gets back what it lacks and sends what the server lacks, then
  pushes binary updates (:mod:`archlab.collab.crdt.codec`) that the server integrates and
  forwards. A client can also ``--listen`` so other peers connect to it directly, no server.
  Peers keep editing while disconnected and retry; on reconnecting they exchange what the
  other side lacks and converge.

The client prints status lines (``connected``, ``disconnected``, ``edits done``) and, last,
one JSON object with its final text, so tests and scripts can drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import WebSocketException

from archlab.collab.crdt import codec
from archlab.collab.crdt.text import TextDoc, UpdateError, Version
from archlab.collab.ot.jupiter import Broadcast, OTClient, OTServer, Submit
from archlab.collab.ot.ops import OperationError

Connection = ServerConnection | ClientConnection


def _version_json(v: Version) -> dict[str, dict[str, int]]:
    return {
        "inserts": {str(k): n for k, n in v.inserts.items()},
        "deletes": {str(k): n for k, n in v.deletes.items()},
    }


def _version_from(data: Any) -> Version:
    return Version(
        {int(k): int(n) for k, n in data["inserts"].items()},
        {int(k): int(n) for k, n in data["deletes"].items()},
    )


def _say(line: str) -> None:
    print(line, flush=True)


# -- server ------------------------------------------------------------------------------


class OTHub:
    def __init__(self) -> None:
        self.server = OTServer("")
        self.clients: dict[str, ServerConnection] = {}
        self.joined = 0

    async def handle(self, ws: ServerConnection) -> None:
        self.joined += 1
        name = f"c{self.joined}"
        self.clients[name] = ws
        _say(f"client {name} connected")
        try:
            hello = {"type": "hello", "mode": "ot", "name": name, "doc": self.server.doc}
            await ws.send(json.dumps({**hello, "revision": self.server.revision}))
            async for raw in ws:
                try:
                    m = json.loads(raw)
                    op = tuple(c if isinstance(c, str) else int(c) for c in m["op"])
                    b = self.server.receive(Submit(name, int(m["revision"]), op))
                except (ValueError, KeyError, TypeError, OperationError) as exc:
                    _say(f"refused client {name}: {exc}")
                    await ws.close(1003, "bad operation")
                    return
                frame = json.dumps(
                    {"type": "op", "client": b.client, "revision": b.revision, "op": list(b.op)}
                )
                for conn in list(self.clients.values()):
                    with contextlib.suppress(WebSocketException):
                        await conn.send(frame)
        finally:
            self.clients.pop(name, None)


class CRDTHub:
    """A replica that serves peers: integrates what they send and forwards it to the others."""

    def __init__(self, doc: TextDoc) -> None:
        self.doc = doc
        self.peers: set[Connection] = set()

    async def handle(self, ws: ServerConnection) -> None:
        _say("peer connected")
        await self.serve_peer(ws, initiator=False)

    async def serve_peer(self, ws: Connection, *, initiator: bool) -> None:
        self.peers.add(ws)
        try:
            await ws.send(json.dumps({"type": "hello", "version": _version_json(self.doc.version)}))
            async for raw in ws:
                if isinstance(raw, str):
                    theirs = _version_from(json.loads(raw)["version"])
                    await ws.send(codec.encode(self.doc.update_since(theirs)))
                    continue
                await self.integrate(raw, ws)
        finally:
            self.peers.discard(ws)

    async def integrate(self, raw: bytes, source: Connection) -> None:
        """Apply a peer's update and forward it to every other peer; refuse a bad one."""
        try:
            self.doc.apply(codec.decode(raw, "peer update"))
        except UpdateError as exc:
            _say(f"refused an update: {exc}")
            return
        for peer in list(self.peers):
            if peer is not source:
                with contextlib.suppress(WebSocketException):
                    await peer.send(raw)

    async def broadcast(self, data: bytes) -> None:
        for peer in list(self.peers):
            with contextlib.suppress(WebSocketException):
                await peer.send(data)


async def run_server(mode: str, host: str, port: int) -> None:
    handler: Callable[[ServerConnection], Awaitable[None]]
    handler = OTHub().handle if mode == "ot" else CRDTHub(TextDoc(0)).handle
    async with serve(handler, host, port) as server:
        _say(f"serving {mode} on ws://{host}:{port}")
        await server.serve_forever()


# -- client ------------------------------------------------------------------------------


@dataclass
class ClientPlan:
    url: str
    mode: str
    replica: int
    edits: int = 0
    interval: float = 0.05
    seed: int = 0
    wait_stdin: bool = False
    linger: float = 1.0
    listen: int | None = None
    lines: list[str] = field(default_factory=list)
    patches: list[tuple[int, int, str]] = field(default_factory=list)


def _random_edit(rng: random.Random, length: int) -> tuple[int, int, str]:
    if length > 3 and rng.random() < 0.25:
        pos = rng.randrange(length - 1)
        return pos, 1, ""
    return rng.randint(0, length), 0, rng.choice("abcdefgh ") * rng.randint(1, 3)


async def run_client(plan: ClientPlan) -> dict[str, Any]:
    if plan.mode == "ot":
        return await _ot_client(plan)
    return await _crdt_client(plan)


async def _edits(
    plan: ClientPlan, length: Callable[[], int], apply: Callable[[int, int, str], Awaitable[None]]
) -> None:
    rng = random.Random(plan.seed)
    for line in plan.lines:
        await apply(length(), 0, line)
    for i, (pos, dels, text) in enumerate(plan.patches):
        if dels:
            await apply(pos, dels, "")
        if text:
            await apply(pos, 0, text)
        if i % 100 == 0:
            await asyncio.sleep(0)  # let the connection breathe
    for _ in range(plan.edits):
        await asyncio.sleep(plan.interval)
        await apply(*_random_edit(rng, length()))
    _say("edits done")
    if plan.wait_stdin:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await asyncio.sleep(plan.linger)


async def _ot_client(plan: ClientPlan) -> dict[str, Any]:
    ws = await _connect_retrying(plan.url)
    hello = json.loads(await ws.recv())
    client = OTClient(hello["name"], hello["doc"], int(hello["revision"]))
    _say("connected")
    made = 0
    in_flight: list[int] = []
    buffered: list[int] = []
    connected = True

    async def send(message: Submit | None) -> None:
        nonlocal connected
        if message is None or not connected:
            return
        try:
            await ws.send(
                json.dumps({"type": "submit", "revision": message.revision, "op": list(message.op)})
            )
        except WebSocketException:
            connected = False

    async def reader() -> None:
        nonlocal connected, in_flight, buffered
        try:
            async for raw in ws:
                m = json.loads(raw)
                op = tuple(c if isinstance(c, str) else int(c) for c in m["op"])
                mine = m["client"] == client.name
                reply = client.receive(Broadcast(m["client"], int(m["revision"]), op))
                if mine:
                    in_flight, buffered = buffered, []
                await send(reply)
        except WebSocketException:
            pass
        connected = False
        _say("disconnected: the OT server is gone; edits can no longer be committed")

    async def apply(pos: int, dels: int, text: str) -> None:
        nonlocal made
        made += 1
        message = client.edit(pos, dels, text)
        (in_flight if message is not None else buffered).append(made)
        await send(message)

    task = asyncio.create_task(reader())
    await _edits(plan, lambda: len(client.doc), apply)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, WebSocketException):
        await ws.close()
        await task
    return {
        "mode": "ot",
        "name": client.name,
        "text": client.doc,
        "edits": made,
        "uncommitted": len(in_flight) + len(buffered),
        "state": client.state,
        "revision": client.revision,
    }


async def _connect_retrying(url: str, attempts: int = 200) -> ClientConnection:
    for _ in range(attempts):
        try:
            return await connect(url, open_timeout=2)
        except (TimeoutError, OSError, WebSocketException):
            await asyncio.sleep(0.1)
    raise ConnectionError(f"cannot connect to {url}")


async def _crdt_client(plan: ClientPlan) -> dict[str, Any]:
    hub = CRDTHub(TextDoc(plan.replica))
    doc = hub.doc
    stop = asyncio.Event()
    ready = asyncio.Event()
    reconnects = 0

    async def link() -> None:
        nonlocal reconnects
        while not stop.is_set():
            try:
                async with connect(plan.url, open_timeout=2) as ws:
                    _say("connected")
                    ready.set()
                    hello = json.loads(await ws.recv())
                    server_version = _version_from(hello["version"])
                    await ws.send(
                        json.dumps({"type": "sync", "version": _version_json(doc.version)})
                    )
                    await ws.send(codec.encode(doc.update_since(server_version)))
                    await _peer_loop(hub, ws)
            except (TimeoutError, OSError, WebSocketException):
                pass
            if not stop.is_set():
                reconnects += 1
                _say("disconnected: editing offline, retrying")
                await asyncio.sleep(0.2)

    async def apply(pos: int, dels: int, text: str) -> None:
        update = doc.delete(pos, dels) if dels else doc.insert(pos, text)
        await hub.broadcast(codec.encode(update))

    tasks = [asyncio.create_task(link())]
    if plan.listen is not None:
        server = await serve(hub.handle, "127.0.0.1", plan.listen)
        _say(f"listening for peers on ws://127.0.0.1:{plan.listen}")
        ready.set()  # peers may come to us: no need to wait for the server
    else:
        server = None
    await asyncio.wait_for(ready.wait(), timeout=30)
    await _edits(plan, lambda: len(doc), apply)
    stop.set()
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t
    if server is not None:
        server.close()
    return {
        "mode": "crdt",
        "replica": plan.replica,
        "text": doc.text,
        "edits": plan.edits + len(plan.lines) + len(plan.patches),
        "reconnects": reconnects,
        "pending": doc.pending,
    }


async def _peer_loop(hub: CRDTHub, ws: ClientConnection) -> None:
    """Handle one connection to a peer that we opened (the peer speaks first)."""
    hub.peers.add(ws)
    try:
        async for raw in ws:
            if isinstance(raw, str):
                continue
            await hub.integrate(raw, ws)
    finally:
        hub.peers.discard(ws)
