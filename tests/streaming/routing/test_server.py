"""The exchange broker over real sockets: clients publish, consume, ack; bad frames are refused."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Awaitable, Callable

import pytest

from archlab.streaming.routing.client import ExchangeClient, RequestRefused
from archlab.streaming.routing.server import ExchangeServer
from archlab.streaming.routing.wire import MAX_FRAME, encode

Scenario = Callable[[ExchangeServer], Awaitable[None]]


def run(scenario: Scenario) -> None:
    async def main() -> None:
        server = ExchangeServer("127.0.0.1", 0, tick_s=0.01)
        await server.start()
        try:
            await asyncio.wait_for(scenario(server), 20)
        finally:
            await server.close()

    asyncio.run(main())


def test_topic_routing_prefetch_and_ack_over_tcp() -> None:
    async def scenario(server: ExchangeServer) -> None:
        producer = await ExchangeClient.connect("127.0.0.1", server.port)
        worker = await ExchangeClient.connect("127.0.0.1", server.port)
        try:
            await producer.declare_exchange("logs", "topic")
            await producer.declare_queue("errors")
            await producer.bind("errors", "logs", "*.error")
            await producer.bind("errors", "logs", "db.#")
            assert await producer.publish("logs", "db.error", b"both bindings") == 1
            assert await producer.publish("logs", "web.info", b"nobody") == 0
            await producer.publish("logs", "web.error", b"second")
            await worker.consume("errors", "w", prefetch=1)
            first = await worker.next_delivery()
            assert first.body == b"both bindings"
            with pytest.raises(asyncio.TimeoutError):
                await worker.next_delivery(timeout=0.2)  # prefetch 1: nothing more until ack
            await worker.ack(first.tag)
            second = await worker.next_delivery()
            assert second.body == b"second" and second.routing_key == "web.error"
            await worker.ack(second.tag)
            assert await producer.depth("errors") == (0, 0)
        finally:
            await producer.close()
            await worker.close()

    run(scenario)


def test_a_dropped_connection_requeues_and_dead_letters_by_ttl() -> None:
    async def scenario(server: ExchangeServer) -> None:
        a = await ExchangeClient.connect("127.0.0.1", server.port)
        b = await ExchangeClient.connect("127.0.0.1", server.port)
        try:
            await a.declare_exchange("dlx", "fanout")
            await a.declare_queue("dead")
            await a.bind("dead", "dlx")
            await a.declare_queue("jobs", dead_letter_exchange="dlx", message_ttl=50)
            await a.publish("", "jobs", b"job")
            await b.consume("jobs", "lost", prefetch=5)
            assert (await b.next_delivery()).body == b"job"
            await b.close()  # never acked: back to the queue, then it expires
            for _ in range(100):
                if (await a.depth("dead"))[0]:
                    break
                await asyncio.sleep(0.02)
            got = await a.get("dead", auto_ack=True)
            assert got is not None and got.headers["x-first-death-reason"] == "expired"
        finally:
            await a.close()

    run(scenario)


def raw_frame(body: bytes) -> bytes:
    return struct.pack("<I", len(body)) + body


async def read_reply(reader: asyncio.StreamReader) -> dict[str, object]:
    (size,) = struct.unpack("<I", await reader.readexactly(4))
    body = await reader.readexactly(size)
    (header_size,) = struct.unpack_from("<I", body)
    reply = json.loads(body[4 : 4 + header_size])
    assert isinstance(reply, dict)
    return reply


def test_bad_frames_get_protocol_errors_and_others_are_served() -> None:
    async def scenario(server: ExchangeServer) -> None:
        good = await ExchangeClient.connect("127.0.0.1", server.port)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            await good.declare_queue("q")
            cases = [
                (raw_frame(b"\x01"), 501),  # no header length
                (raw_frame(struct.pack("<I", 99) + b"{}"), 501),  # header longer than frame
                (raw_frame(struct.pack("<I", 3) + b"{x}"), 502),  # not JSON
                (encode({"op": "publish"}), 502),  # no id
                (encode({"id": 1, "op": "teleport"}), 540),  # unknown op
                (encode({"id": 2, "op": "publish", "exchange": "", "routing_key": 5}), 502),
                (encode({"id": 3, "op": "ack", "tag": 42}), 406),  # unknown delivery tag
                (encode({"id": 4, "op": "bind", "queue": "q", "exchange": "none"}), 404),
            ]
            for frame, code in cases:
                writer.write(frame)
                await writer.drain()
                reply = await read_reply(reader)
                assert reply["ok"] is False and reply["code"] == code, reply
            # the same connection still works after its bad requests
            writer.write(encode({"id": 9, "op": "depth", "queue": "q"}))
            assert (await read_reply(reader))["ok"] is True
            # a length no frame may have: an error, then that connection (only) is closed
            writer.write(struct.pack("<I", MAX_FRAME + 1))
            await writer.drain()
            assert (await read_reply(reader))["code"] == 501
            assert await reader.read() == b""
            assert await good.publish("", "q", b"still here") == 1
            with pytest.raises(RequestRefused) as refused:
                await good.declare_exchange("x", "quantum")
            assert refused.value.code == 503
        finally:
            writer.close()
            await good.close()
        assert server.protocol_errors >= 7

    run(scenario)


def test_nack_cancel_unbind_and_delete_over_tcp() -> None:
    async def scenario(server: ExchangeServer) -> None:
        c = await ExchangeClient.connect("127.0.0.1", server.port)
        try:
            await c.declare_exchange("h", "headers")
            await c.declare_queue("pdfs")
            pdf = {"x-match": "all", "format": "pdf"}
            await c.bind("pdfs", "h", arguments=pdf)
            assert await c.publish("h", "", b"doc", {"format": "pdf"}) == 1
            await c.consume("pdfs", "w", prefetch=1)
            first = await c.next_delivery()
            await c.nack(first.tag, requeue=True)
            again = await c.next_delivery()
            assert again.body == b"doc" and again.redelivered
            await c.request("cancel", consumer="w")  # unacked: back to the queue
            assert await c.depth("pdfs") == (1, 0)
            await c.request("unbind", queue="pdfs", exchange="h", arguments=pdf)
            assert await c.publish("h", "", b"doc", {"format": "pdf"}) == 0
            reply = await c.request("delete_queue", name="pdfs")
            assert reply["messages"] == 1
            with pytest.raises(RequestRefused) as refused:
                await c.depth("pdfs")
            assert refused.value.code == 404
        finally:
            await c.close()

    run(scenario)
