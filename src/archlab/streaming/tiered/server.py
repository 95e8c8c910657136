"""The Pulsar-model cluster served over TCP with asyncio (``archlab tiered serve``).

One process holds the bookies (directories under ``--dir``), the object store (a directory, or
an S3 endpoint), the metadata (``--dir``/metadata, :mod:`.persist`, saved before replies are
sent) and one broker, which acquires each topic the first time a client names it; after a
restart that acquisition recovers the ledger that was open.
Frames and errors are the exchange broker's (:mod:`archlab.streaming.routing.wire`); a frame
that cannot be decoded gets an error reply, an oversized length closes that connection only.
A timer runs the broker's maintenance (ledger rollover by age, offload, retention) every
``tick_s`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from pathlib import Path

from archlab.runtime.framing import FrameDecoder, FrameTooLarge
from archlab.streaming.routing.wire import FRAME_ERROR, MAX_FRAME, ProtocolError, decode, encode
from archlab.streaming.tiered import persist
from archlab.streaming.tiered.cluster import TieredCluster, TieredConfig
from archlab.streaming.tiered.objectstore import ObjectStore
from archlab.streaming.tiered.protocol import handle

log = logging.getLogger(__name__)


class TieredServer:
    def __init__(
        self,
        directory: Path,
        store: ObjectStore,
        config: TieredConfig,
        bookies: int = 3,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_s: float = 1.0,
    ) -> None:
        self.cluster = TieredCluster(directory, store, random.Random(), time.time, config)
        for i in range(bookies):
            self.cluster.add_bookie(f"bookie{i}", sync=True)
        self.metadata_path = directory / "metadata"
        persist.load(self.cluster, self.metadata_path)  # a restart finds its topics again
        self.broker = self.cluster.add_broker("broker0")
        self.host, self.port, self.tick_s = host, port, tick_s
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._tick())

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            await self._server.wait_closed()
        self.cluster.close()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            for topic in list(self.broker.owned):
                self.broker.maintain(topic)
            persist.save(self.cluster, self.metadata_path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        frames = FrameDecoder(MAX_FRAME)
        try:
            while data := await reader.read(65536):
                try:
                    bodies = frames.feed(data)
                except FrameTooLarge as e:
                    writer.write(
                        encode({"id": None, "ok": False, "code": FRAME_ERROR, "error": str(e)})
                    )
                    await writer.drain()
                    return
                replies = []
                for body in bodies:
                    try:
                        header, payload = decode(body)
                    except ProtocolError as e:
                        refused = {"id": None, "ok": False, "code": e.code, "error": e.text}
                        replies.append(encode(refused))
                        continue
                    replies.append(encode(*handle(self.broker, header, payload)))
                if bodies:  # the metadata is durable before any reply leaves
                    persist.save(self.cluster, self.metadata_path)
                writer.write(b"".join(replies))
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
