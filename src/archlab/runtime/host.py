"""The asyncio host of one consensus server: sockets, ticks and fsync around a sans-IO core.

:class:`NodeHost` drives any :class:`~archlab.consensus.server.ConsensusServer` (the Raft
server; later Multi-Paxos and Zab) exactly as the simulator does, with real I/O:

- **inputs**: frames from peers (Raft messages) and from clients (requests) arrive on one TCP
  port; a ticker counts elapsed tick periods against the monotonic clock. They are queued, not
  handled on arrival;
- **the loop** takes everything queued, feeds it to the server (``tick`` for each elapsed
  period, ``receive``, ``request``), calls ``drain()`` once, and carries out the actions in
  order. Actions before a :class:`~archlab.consensus.server.SyncStorage` are flushed to the
  sockets first; then the sync runs (``fdatasync`` in a worker thread, so the loop keeps
  reading sockets meanwhile); only then are the later actions carried out. This is the Ready
  contract — nothing that depends on a write leaves before the write is durable — and it is
  also **group commit**: whatever arrived during one fsync is handled as one batch and costs
  one fsync, so the fsync rate stays bounded while the batch grows with load;
- **outputs** are written per destination in one ``write`` per batch (peer links and client
  connections).

A client request's ``client`` field is replaced by the number of the connection it came on,
which is where the server's ``Respond`` is sent back. ``StatusRequest`` is answered by the host
itself (role, term, leader, commit and applied index, fsyncs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from archlab.consensus.client import ClientRequest, ClientResponse, Value
from archlab.consensus.server import (
    Applied,
    ConsensusServer,
    Note,
    Respond,
    SendMessage,
    SyncStorage,
)
from archlab.runtime.codec import Frame, Hello, StatusReply, StatusRequest
from archlab.runtime.transport import FramedConnection, PeerLink

log = logging.getLogger(__name__)

#: At most this many overdue ticks are delivered at once (after a long stall, e.g. a pause).
MAX_TICK_BURST = 10


class NodeHost:
    """Hosts ``server`` as node ``node_id`` of the cluster ``addresses``."""

    def __init__(
        self,
        server: ConsensusServer,
        node_id: int,
        addresses: Mapping[int, tuple[str, int]],
        *,
        sync: Callable[[], None] | None,
        tick_interval: float = 0.01,
        status_extra: Callable[[], dict[str, Value]] | None = None,
    ) -> None:
        self.server = server
        self.node_id = node_id
        self.addresses = dict(addresses)
        self.tick_interval = tick_interval
        self._sync = sync
        self._status_extra = status_extra
        self._inbox: list[Frame] = []
        self._wake = asyncio.Event()
        self._ticks_due = 0
        self._links: dict[int, PeerLink] = {}
        self._clients: dict[int | str, FramedConnection] = {}
        self._next_client = 1
        self._server: asyncio.base_events.Server | None = None
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: Counters for status and benchmarks.
        self.batches = 0
        self.syncs = 0
        self.applied = 0

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen, connect to the peers and start the loop and the ticker."""
        loop = asyncio.get_running_loop()
        host, port = self.addresses[self.node_id]
        self._server = await loop.create_server(
            lambda: FramedConnection(self._on_frame, self._on_close), host, port, reuse_address=True
        )
        for peer, (peer_host, peer_port) in self.addresses.items():
            if peer != self.node_id:
                link = PeerLink(self.node_id, peer, peer_host, peer_port)
                link.start()
                self._links[peer] = link
        self._tasks = [loop.create_task(self._run()), loop.create_task(self._tick())]

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for link in self._links.values():
            await link.stop()
        for conn in list(self._clients.values()):
            conn.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def wait_stopped(self) -> None:
        await self._stopping.wait()

    # -- inputs --------------------------------------------------------------------------

    def _on_frame(self, conn: FramedConnection, item: Frame) -> None:
        if conn.hello is None:
            if not isinstance(item, Hello):
                conn.close()
                return
            conn.hello = item
            if item.role == "client":
                conn.tag = self._next_client
                self._clients[conn.tag] = conn
                self._next_client += 1
            return
        if conn.hello.role == "client":
            if isinstance(item, ClientRequest):
                tagged = ClientRequest(conn.tag, item.request_id, item.payload, item.data)
                self._inbox.append(tagged)
                self._wake.set()
            elif isinstance(item, StatusRequest):
                conn.send(StatusReply(item.request_id, tuple(self.status().items())))
            else:
                conn.close()
        elif getattr(item, "dst", None) == self.node_id and not isinstance(
            item, ClientRequest | ClientResponse | StatusReply
        ):
            self._inbox.append(item)
            self._wake.set()

    def _on_close(self, conn: FramedConnection) -> None:
        if conn.hello is not None and conn.hello.role == "client":
            self._clients.pop(conn.tag, None)

    async def _tick(self) -> None:
        started = time.monotonic()
        count = 0
        while True:
            count += 1
            delay = started + count * self.tick_interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._ticks_due += 1
            self._wake.set()

    # -- the loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        server = self.server
        while not self._stopping.is_set():
            if not self._inbox and not self._ticks_due:
                await self._wake.wait()
            self._wake.clear()
            inbox, self._inbox = self._inbox, []
            ticks, self._ticks_due = min(self._ticks_due, MAX_TICK_BURST), 0
            for _ in range(ticks):
                server.tick()
            for item in inbox:
                if isinstance(item, ClientRequest):
                    server.request(item)
                else:
                    server.receive(item)
            actions = server.drain()
            if actions:
                self.batches += 1
                await self._execute(actions)

    async def _execute(self, actions: list[Any]) -> None:
        outbound: dict[int, list[Frame]] = {}
        replies: dict[int | str, list[Frame]] = {}
        for action in actions:
            if isinstance(action, SendMessage):
                outbound.setdefault(action.dst, []).append(action.message)
            elif isinstance(action, Respond):
                replies.setdefault(action.client, []).append(action.response)
            elif isinstance(action, SyncStorage):
                self._flush(outbound, replies)
                outbound, replies = {}, {}
                if self._sync is not None:
                    await asyncio.get_running_loop().run_in_executor(None, self._sync)
                    self.syncs += 1
            elif isinstance(action, Applied):
                self.applied += 1
            elif isinstance(action, Note):
                log.info("%s", action.text)
        self._flush(outbound, replies)

    def _flush(
        self, outbound: dict[int, list[Frame]], replies: dict[int | str, list[Frame]]
    ) -> None:
        for dst, messages in outbound.items():
            link = self._links.get(dst)
            if link is not None:
                link.send_many(messages)
        for client, responses in replies.items():
            conn = self._clients.get(client)
            if conn is not None:
                conn.send_many(responses)

    # -- status --------------------------------------------------------------------------

    def status(self) -> dict[str, Value]:
        leading = self.server.leadership()
        fields: dict[str, Value] = {
            "node": self.node_id,
            "leader": self.server.leader_hint(),
            "leading_term": leading,
            "role": "leader" if leading is not None else "follower",
            "batches": self.batches,
            "syncs": self.syncs,
            "applied_entries": self.applied,
            "clients": len(self._clients),
        }
        if self._status_extra is not None:
            fields.update(self._status_extra())
        return fields
