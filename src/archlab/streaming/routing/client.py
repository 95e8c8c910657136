"""An asyncio client of the exchange broker's wire protocol (:mod:`.wire`).

Requests are awaited by id; deliveries pushed by the server land in :attr:`deliveries`.
A refused request raises :class:`RequestRefused` with the server's code and sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass
from typing import Any

from archlab.runtime.framing import FrameDecoder
from archlab.streaming.routing.exchanges import HeaderValue
from archlab.streaming.routing.wire import MAX_FRAME, decode, encode


class RequestRefused(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


@dataclass(frozen=True)
class Received:
    """A message as the client sees it: a pushed delivery or a ``get`` answer."""

    consumer: str
    tag: int
    queue: str
    exchange: str
    routing_key: str
    headers: dict[str, HeaderValue]
    redelivered: bool
    body: bytes


class ExchangeClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[tuple[dict[str, Any], bytes]]] = {}
        self.deliveries: asyncio.Queue[Received] = asyncio.Queue()
        self.unsolicited: list[dict[str, Any]] = []
        self._pump = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, host: str, port: int) -> ExchangeClient:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump

    async def request(self, op: str, payload: bytes = b"", **fields: Any) -> dict[str, Any]:
        reply, _ = await self.request_with_payload(op, payload, **fields)
        return reply

    async def request_with_payload(
        self, op: str, payload: bytes = b"", **fields: Any
    ) -> tuple[dict[str, Any], bytes]:
        request_id = next(self._ids)
        future: asyncio.Future[tuple[dict[str, Any], bytes]] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[request_id] = future
        self._writer.write(encode({"id": request_id, "op": op, **fields}, payload))
        await self._writer.drain()
        reply, body = await future
        if not reply.get("ok"):
            raise RequestRefused(int(reply.get("code", 0)), str(reply.get("error", "")))
        return reply, body

    # --- the operations ---------------------------------------------------------------
    async def declare_exchange(self, name: str, type: str) -> None:
        await self.request("declare_exchange", name=name, type=type)

    async def declare_queue(self, name: str, **arguments: HeaderValue) -> None:
        await self.request("declare_queue", name=name, arguments=_dashed(arguments))

    async def bind(
        self, queue: str, exchange: str, key: str = "", arguments: dict[str, Any] | None = None
    ) -> None:
        await self.request("bind", queue=queue, exchange=exchange, key=key, arguments=arguments)

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        headers: dict[str, HeaderValue] | None = None,
        expiration_ms: int | None = None,
    ) -> int:
        reply = await self.request(
            "publish",
            body,
            exchange=exchange,
            routing_key=routing_key,
            headers=headers or {},
            expiration_ms=expiration_ms,
        )
        return int(reply["routed"])

    async def consume(self, queue: str, consumer: str, prefetch: int = 0) -> None:
        await self.request("consume", queue=queue, consumer=consumer, prefetch=prefetch)

    async def get(self, queue: str, auto_ack: bool = False) -> Received | None:
        reply, body = await self.request_with_payload("get", queue=queue, auto_ack=auto_ack)
        described = reply["message"]
        return None if described is None else _received(described, body)

    async def ack(self, tag: int, multiple: bool = False) -> None:
        await self.request("ack", tag=tag, multiple=multiple)

    async def nack(self, tag: int, requeue: bool = True, multiple: bool = False) -> None:
        await self.request("nack", tag=tag, requeue=requeue, multiple=multiple)

    async def depth(self, queue: str) -> tuple[int, int]:
        reply = await self.request("depth", queue=queue)
        return int(reply["ready"]), int(reply["unacked"])

    async def next_delivery(self, timeout: float = 5.0) -> Received:
        return await asyncio.wait_for(self.deliveries.get(), timeout)

    async def _read(self) -> None:
        frames = FrameDecoder(MAX_FRAME)
        try:
            while data := await self._reader.read(65536):
                for body in frames.feed(data):
                    header, payload = decode(body)
                    self._dispatch(header, payload)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection closed"))

    def _dispatch(self, header: dict[str, Any], payload: bytes) -> None:
        if header.get("op") == "deliver":
            self.deliveries.put_nowait(_received(header, payload))
            return
        future = self._pending.pop(header["id"], None) if header.get("id") is not None else None
        if future is None:
            self.unsolicited.append(header)
        elif not future.done():
            future.set_result((header, payload))


def _received(h: dict[str, Any], body: bytes) -> Received:
    return Received(
        h["consumer"],
        h["tag"],
        h["queue"],
        h["exchange"],
        h["routing_key"],
        dict(h["headers"]),
        bool(h["redelivered"]),
        body,
    )


def _dashed(arguments: dict[str, HeaderValue]) -> dict[str, HeaderValue]:
    """``message_ttl=5`` -> ``{"x-message-ttl": 5}``; names already dashed pass as they are."""
    return {k if "-" in k else "x-" + k.replace("_", "-"): v for k, v in arguments.items()}
