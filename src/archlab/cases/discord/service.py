"""Discord's data service on real sockets (codex 10.2): instances, and the routing client.

A :class:`DataService` is one instance: an asyncio TCP server speaking one line per request
(``GET <key>``) and answering ``OK <length>`` and the value, or ``ERR <reason>``. With
``coalesce`` on, concurrent reads of one key share one store query
(:class:`~archlab.cases.discord.coalesce.Coalescer`). The store is shared by every instance,
as the database is.

:class:`RoutingClient` sends each key to an instance chosen by a consistent-hash ring over the
instances (Ringpop's :class:`~archlab.cases.ringpop.ring.HashRing`), so every read of a hot
channel lands on the same instance and coalesces there; or at random, as a plain load
balancer would, which splits the same readers over every instance.
"""

from __future__ import annotations

import asyncio
import random

from archlab.cases.discord.coalesce import Coalescer
from archlab.cases.discord.store import CostlyStore, StoreError
from archlab.cases.ringpop.ring import HashRing


class DataService:
    def __init__(self, store: CostlyStore, coalesce: bool = True) -> None:
        self.store = store
        self.coalescer: Coalescer[bytes | None] | None = Coalescer() if coalesce else None
        self._server: asyncio.Server | None = None
        self.address = ""
        self.requests = 0
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port, backlog=4096)
        self.address = f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()

    async def read(self, key: bytes) -> bytes | None:
        self.requests += 1
        if self.coalescer is None:
            return await self.store.read(key)
        return await self.coalescer.get(key, lambda: self.store.read(key))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            while line := await reader.readline():
                parts = line.split()
                if len(parts) != 2 or parts[0] != b"GET":
                    writer.write(b"ERR expected 'GET <key>'\n")
                    continue
                try:
                    value = await self.read(parts[1])
                except StoreError as exc:
                    writer.write(f"ERR {exc}\n".encode())
                    continue
                if value is None:
                    writer.write(b"ERR no such key\n")
                else:
                    writer.write(b"OK %d\n" % len(value) + value)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


class ReadFailed(Exception):
    """The service answered ``ERR``."""


class RoutingClient:
    """One reader's connections to the instances, and its routing rule."""

    def __init__(self, addresses: list[str], routing: str, rng: random.Random) -> None:
        if routing not in ("hash", "random"):
            raise ValueError(f"routing must be 'hash' or 'random', not {routing!r}")
        self.addresses = addresses
        self.routing = routing
        self._ring = HashRing(addresses)
        self._rng = rng
        self._conns: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}

    def route(self, key: str) -> str:
        if self.routing == "hash":
            return self._ring.lookup(key)
        return self._rng.choice(self.addresses)

    async def connect(self) -> None:
        """Open the connections to every instance now (else on first use)."""
        for address in self.addresses:
            await self._connection(address)

    async def _connection(self, address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        conn = self._conns.get(address)
        if conn is None:
            host, port = address.rsplit(":", 1)
            conn = await asyncio.open_connection(host, int(port))
            self._conns[address] = conn
        return conn

    async def get(self, key: str) -> bytes:
        reader, writer = await self._connection(self.route(key))
        writer.write(f"GET {key}\n".encode())
        await writer.drain()
        head = await reader.readline()
        if head.startswith(b"OK "):
            return await reader.readexactly(int(head[3:]))
        raise ReadFailed(head.decode().strip())

    async def close(self) -> None:
        for _, writer in self._conns.values():
            writer.close()
        self._conns.clear()
