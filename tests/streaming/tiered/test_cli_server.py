"""``archlab tiered``: the demo's story, and the served cluster over real sockets."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import struct
from pathlib import Path
from typing import Any

from archlab.streaming.routing.wire import MAX_FRAME, decode, encode
from archlab.streaming.tiered.cluster import TieredConfig
from archlab.streaming.tiered.objectstore import LocalDirectoryStore
from archlab.streaming.tiered.server import TieredServer
from tests.conftest import run_cli


def test_the_demo_reports_no_copy_fencing_and_full_replay() -> None:
    result = run_cli(["tiered", "demo", "--messages", "300"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "0 bytes written to bookies" in out
    assert "next write is refused" in out
    assert "replays 320 of 320 messages" in out and "all intact, in order" in out


def test_a_bad_s3_endpoint_is_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    result = run_cli(["tiered", "demo", "--s3-endpoint", endpoint, "--bucket", "b"])
    assert result.exit_code == 2 and "--s3-endpoint" in result.stderr
    assert "Traceback" not in result.stderr


async def call(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes = b"", **h: Any
) -> tuple[dict[str, Any], bytes]:
    writer.write(encode(h, payload))
    await writer.drain()
    (size,) = struct.unpack("<I", await reader.readexactly(4))
    return decode(await reader.readexactly(size))


def test_produce_subscribe_receive_seek_over_tcp(tmp_path: Path) -> None:
    async def main() -> None:
        config = TieredConfig(max_entries_per_ledger=10, offload=True)
        server = TieredServer(tmp_path, LocalDirectoryStore(tmp_path / "objects"), config)
        server.cluster.bookies.placement.rng = random.Random(1)
        await server.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            ids = iter(range(1, 1000))
            positions = []
            for i in range(25):
                reply, _ = await call(
                    reader, writer, f"m{i}".encode(), id=next(ids), op="produce", topic="t"
                )
                assert reply["ok"], reply
                positions.append((reply["ledger"], reply["entry"]))
            server.broker.maintain("t")  # offload the closed ledgers now
            sub = {"topic": "t", "subscription": "s"}
            assert (await call(reader, writer, id=next(ids), op="subscribe", **sub))[0]["ok"]
            reply, body = await call(reader, writer, id=next(ids), op="receive", max=100, **sub)
            lengths = [n for _, _, n in reply["messages"]]
            assert len(lengths) == 25 and body == b"".join(f"m{i}".encode() for i in range(25))
            ledger, entry = positions[19]
            seek = {"ledger": ledger, "entry": entry}
            assert (await call(reader, writer, id=next(ids), op="seek", **seek, **sub))[0]["ok"]
            reply, body = await call(reader, writer, id=next(ids), op="receive", max=100, **sub)
            assert body == b"".join(f"m{i}".encode() for i in range(20, 25))
            stats, _ = await call(reader, writer, id=next(ids), op="stats")
            assert stats["offloaded_bytes"] > 0
            # refusals keep the connection open
            for bad, code in [
                ({"op": "produce"}, 502),
                ({"id": 1, "op": "explode"}, 540),
                ({"id": 2, "op": "receive", "topic": "t", "subscription": "none"}, 404),
                ({"id": 3, "op": "receive", "max": 0, **sub}, 502),
            ]:
                assert (await call(reader, writer, **bad))[0]["code"] == code
            writer.write(struct.pack("<I", 3) + b"\x09\x00\x00")  # header longer than frame
            await writer.drain()
            (size,) = struct.unpack("<I", await reader.readexactly(4))
            assert decode(await reader.readexactly(size))[0]["code"] == 501
            writer.write(struct.pack("<I", MAX_FRAME + 1))
            await writer.drain()
            (size,) = struct.unpack("<I", await reader.readexactly(4))
            header = json.loads((await reader.readexactly(size))[4:])
            assert header["code"] == 501 and await reader.read() == b""
        finally:
            writer.close()
            await server.close()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_produce_and_consume_commands_against_a_served_cluster(tmp_path: Path) -> None:
    import threading

    loop = asyncio.new_event_loop()
    server = TieredServer(tmp_path, LocalDirectoryStore(tmp_path / "objects"), TieredConfig())
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        port = str(server.port)
        r = run_cli(["tiered", "produce", "--port", port, "orders", "one", "two", "three"])
        assert r.exit_code == 0, r.stderr
        assert len(r.stdout.split()) == 3
        first = run_cli(["tiered", "consume", "--port", port, "orders", "--subscription", "a"])
        assert [line.split(" ", 1)[1] for line in first.stdout.splitlines()] == [
            "one",
            "two",
            "three",
        ]
        again = run_cli(["tiered", "consume", "--port", port, "orders", "--subscription", "a"])
        assert again.stdout == ""  # acknowledged: this subscription has read them
        other = run_cli(["tiered", "consume", "--port", port, "orders", "--subscription", "b"])
        assert len(other.stdout.splitlines()) == 3  # still in the log for a new subscription
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
    gone = run_cli(["tiered", "consume", "--port", port, "orders", "--subscription", "a"])
    assert gone.exit_code == 3 and "no tiered broker" in gone.stderr


def test_a_restarted_server_finds_its_topics_and_recovers_the_open_ledger(tmp_path: Path) -> None:
    def serve_and(action: Any) -> Any:
        async def main() -> Any:
            server = TieredServer(
                tmp_path, LocalDirectoryStore(tmp_path / "objects"), TieredConfig()
            )
            await server.start()
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            try:
                return await action(reader, writer)
            finally:
                writer.close()
                await server.close()

        return asyncio.run(asyncio.wait_for(main(), 30))

    async def write(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> list[int]:
        ledgers = []
        for i in range(5):
            reply, _ = await call(reader, writer, f"m{i}".encode(), id=i, op="produce", topic="t")
            ledgers.append(reply["ledger"])
        return ledgers

    async def read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> list[Any]:
        sub = {"topic": "t", "subscription": "late"}
        await call(reader, writer, id=1, op="subscribe", **sub)
        reply, body = await call(reader, writer, id=2, op="receive", max=100, **sub)
        more, _ = await call(reader, writer, b"after", id=3, op="produce", topic="t")
        return [reply["messages"], body, more["ledger"]]

    first_ledgers = serve_and(write)
    messages, body, new_ledger = serve_and(read)
    assert body == b"m0m1m2m3m4" and len(messages) == 5
    assert new_ledger > first_ledgers[-1]  # the open ledger was recovered and closed


def test_too_few_bookies_is_an_error_reply_not_a_dropped_connection(tmp_path: Path) -> None:
    async def main() -> None:
        server = TieredServer(tmp_path, LocalDirectoryStore(tmp_path / "o"), TieredConfig())
        await server.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            assert (await call(reader, writer, b"x", id=1, op="produce", topic="t"))[0]["ok"]
            for bookie in list(server.cluster.bookies.bookies.values())[:2]:
                bookie.up = False
            reply, _ = await call(reader, writer, b"y", id=2, op="produce", topic="t")
            assert reply["code"] == 541 and "NotEnoughBookies" in reply["error"]
            assert (await call(reader, writer, id=3, op="stats"))[0]["ok"]
        finally:
            writer.close()
            await server.close()

    asyncio.run(asyncio.wait_for(main(), 30))
