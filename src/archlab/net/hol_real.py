"""The real tier of HOL blocking (codex 3.3): kernel TCP vs aioquic over loopback, with
deterministic packet drops from nftables, inside a private network namespace.

``python -m archlab.net.hol_real`` must run in a namespace of its own (``unshare -n``, as
root): it brings up ``lo`` with a 1500-byte MTU, adds an nftables rule that drops every
``period``-th packet the servers send (``numgen inc``: the same pattern on every run), and
downloads N responses of growing size over one TCP connection (HTTP/2-style frames
interleaved in one ordered byte stream) and over N QUIC streams. It prints one JSON object:
per-stream completion times in ms for each, and the packets the rule dropped.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import subprocess
import sys
import threading
import time
from typing import Any, ClassVar

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import serve
from aioquic.quic.events import QuicEvent, StreamDataReceived

from archlab.net.hol import FRAME, response_sizes
from archlab.net.quic_link import configurations

TCP_PORT, UDP_PORT = 9400, 9401
_HEADER = struct.Struct("!IIB")


def setup_namespace(period: int, offset: int) -> None:
    def run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True)

    run("ip", "link", "set", "lo", "mtu", "1500")
    # Segmentation offload would hand the hook 64 KiB super-packets: one segment per packet.
    run("ip", "link", "set", "lo", "gso_max_segs", "1", "gso_max_size", "1500")
    run("ip", "link", "set", "lo", "up")
    run("nft", "add", "table", "inet", "hol")
    run(
        "nft",
        "add",
        "chain",
        "inet",
        "hol",
        "out",
        "{ type filter hook output priority 0; policy accept; }",
    )
    for proto, port in (("tcp", TCP_PORT), ("udp", UDP_PORT)):
        run(
            "nft",
            "add",
            "rule",
            "inet",
            "hol",
            "out",
            proto,
            "sport",
            str(port),
            "numgen",
            "inc",
            "mod",
            str(period),
            "==",
            str(offset),
            "counter",
            "drop",
        )


def dropped() -> int:
    out = subprocess.run(
        ["nft", "list", "table", "inet", "hol"], capture_output=True, text=True, check=True
    ).stdout
    return sum(int(part.split()[0]) for part in out.split("counter packets ")[1:])


def tcp_download(streams: int, size: int) -> list[float]:
    sizes = response_sizes(size, streams)
    body = bytearray()
    sent = [0] * streams
    while any(s < n for s, n in zip(sent, sizes, strict=True)):
        for i in range(streams):
            if sent[i] < sizes[i]:
                n = min(FRAME, sizes[i] - sent[i])
                sent[i] += n
                body += _HEADER.pack(i, n, int(sent[i] >= sizes[i])) + b"r" * n
    server = socket.create_server(("127.0.0.1", TCP_PORT))

    def serve_one() -> None:
        conn, _ = server.accept()
        conn.recv(64)
        conn.sendall(body)
        conn.close()

    thread = threading.Thread(target=serve_one)
    thread.start()
    client = socket.create_connection(("127.0.0.1", TCP_PORT))
    start = time.perf_counter()
    client.sendall(b"GET")
    done: dict[int, float] = {}
    buffer = bytearray()
    while len(done) < streams:
        chunk = client.recv(65536)
        if not chunk:
            break
        buffer += chunk
        offset = 0
        while len(buffer) - offset >= _HEADER.size:
            index, length, end = _HEADER.unpack_from(buffer, offset)
            if len(buffer) - offset - _HEADER.size < length:
                break
            offset += _HEADER.size + length
            if end:
                done[index] = (time.perf_counter() - start) * 1000
        del buffer[:offset]
    client.close()
    thread.join()
    server.close()
    return [round(done[i], 3) for i in range(streams)]


class _Server(QuicConnectionProtocol):
    sizes: ClassVar[list[int]] = []

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamDataReceived) and event.end_stream:
            index = int(event.data.split()[-1])
            self._quic.send_stream_data(event.stream_id, b"r" * self.sizes[index], True)
            self.transmit()


class _Client(QuicConnectionProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ids: dict[int, int] = {}
        self.done: dict[int, float] = {}
        self.start = 0.0
        self.finished = asyncio.Event()

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamDataReceived) and event.end_stream:
            self.done[self.ids[event.stream_id]] = (time.perf_counter() - self.start) * 1000
            if len(self.done) == len(self.ids):
                self.finished.set()


async def quic_download(streams: int, size: int) -> list[float]:
    client_config, server_config = configurations()
    _Server.sizes = response_sizes(size, streams)
    server = await serve(
        "127.0.0.1", UDP_PORT, configuration=server_config, create_protocol=_Server
    )
    try:
        async with connect(
            "127.0.0.1", UDP_PORT, configuration=client_config, create_protocol=_Client
        ) as client:
            assert isinstance(client, _Client)
            client.start = time.perf_counter()
            for i in range(streams):
                sid = client._quic.get_next_available_stream_id()
                client.ids[sid] = i
                client._quic.send_stream_data(sid, b"GET %d" % i, end_stream=True)
            client.transmit()
            await asyncio.wait_for(client.finished.wait(), 30)
            return [round(client.done[i], 3) for i in range(streams)]
    finally:
        server.close()


def main(argv: list[str]) -> None:
    streams, size, period, offset = (int(a) for a in argv[:4])
    setup_namespace(period, offset)
    tcp = tcp_download(streams, size)
    tcp_dropped = dropped()
    quic = asyncio.run(quic_download(streams, size))
    print(
        json.dumps(
            {"tcp_ms": tcp, "quic_ms": quic, "tcp_dropped": tcp_dropped, "dropped": dropped()}
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
