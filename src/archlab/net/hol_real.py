"""The real tier of HOL blocking (codex 3.3): kernel TCP vs aioquic over loopback, with
deterministic packet drops from nftables, inside a private network namespace.

``python -m archlab.net.hol_real`` must run in a namespace of its own (``unshare -n``, as
root): it brings up ``lo`` with a 1500-byte MTU, adds an nftables rule that drops every
``period``-th packet the servers send (``numgen inc``: the same pattern on every run), and
downloads N responses of growing size over one TCP connection (HTTP/2-style frames
interleaved in one ordered byte stream) and over N QUIC streams. It prints one JSON object:
per-stream completion times in ms for each, the packets the rule dropped, and two witnesses
of head-of-line blocking that do not depend on timing:

- TCP: the receiving socket's ``tcpi_rcv_ooopack`` (Linux 5.4 and later), the segments the
  kernel received past a hole and held back from the application until the retransmission
  filled it, with the sender's ``tcpi_total_retrans``;
- QUIC: from the client's qlog trace (aioquic's ``QuicLogger``), the stream frames that
  extended one stream's readable prefix while another stream still had a hole.

On loopback a hole is repaired within tens of microseconds, less than the scheduler's own
noise, so the completion times are shown, never judged; the counters say what happened.
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
from aioquic.quic.logger import QuicLogger

from archlab.net.hol import FRAME, response_sizes
from archlab.net.quic_link import configurations

TCP_PORT, UDP_PORT = 9400, 9401
_HEADER = struct.Struct("!IIB")
# Offsets in Linux's struct tcp_info (include/uapi/linux/tcp.h).
_TOTAL_RETRANS_AT, _RCV_OOOPACK_AT = 100, 224


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
        "in",
        "{ type filter hook input priority 0; policy accept; }",
    )
    for proto, port in (("tcp", TCP_PORT), ("udp", UDP_PORT)):
        run(
            "nft",
            "add",
            "rule",
            "inet",
            "hol",
            "in",
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


def tcp_counters(sock: socket.socket) -> tuple[int, int | None]:
    """``(tcpi_total_retrans, tcpi_rcv_ooopack)``; the second is None before Linux 5.4."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    (retrans,) = struct.unpack_from("I", info, _TOTAL_RETRANS_AT)
    if len(info) < _RCV_OOOPACK_AT + 4:
        return retrans, None
    (ooopack,) = struct.unpack_from("I", info, _RCV_OOOPACK_AT)
    return retrans, ooopack


def deliveries_past_a_hole(events: list[dict[str, Any]]) -> int:
    """Replays a receiver's qlog ``packet_received`` events, in arrival order, and counts the
    stream frames that extended their stream's readable prefix while another stream had data
    waiting behind a hole: deliveries one ordered byte stream could not have made."""
    received: dict[int, list[tuple[int, int]]] = {}

    def prefix(ranges: list[tuple[int, int]]) -> int:
        end = 0
        for start, stop in sorted(ranges):
            if start > end:
                break
            end = max(end, stop)
        return end

    def has_hole(ranges: list[tuple[int, int]]) -> bool:
        return bool(ranges) and prefix(ranges) < max(stop for _, stop in ranges)

    count = 0
    for event in events:
        if event.get("name") != "transport:packet_received":  # aioquic's qlog names
            continue
        for frame in event["data"].get("frames", []):
            if frame.get("frame_type") != "stream" or not frame.get("length"):
                continue
            sid, start = frame["stream_id"], frame["offset"]
            ranges = received.setdefault(sid, [])
            before = prefix(ranges)
            ranges.append((start, start + frame["length"]))
            blocked_elsewhere = any(has_hole(r) for other, r in received.items() if other != sid)
            if prefix(ranges) > before and blocked_elsewhere:
                count += 1
    return count


def tcp_download(streams: int, size: int) -> tuple[list[float], int, int | None]:
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
    sender_retrans: list[int] = []

    def serve_one() -> None:
        conn, _ = server.accept()
        conn.recv(64)
        conn.sendall(body)
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)  # the client closes once it has everything: every retransmission is counted
        sender_retrans.append(tcp_counters(conn)[0])
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
    ooopack = tcp_counters(client)[1]
    client.close()
    thread.join()
    server.close()
    return [round(done[i], 3) for i in range(streams)], sender_retrans[0], ooopack


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


async def quic_download(streams: int, size: int) -> tuple[list[float], int]:
    client_config, server_config = configurations()
    client_config.quic_logger = QuicLogger()
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
            times = [round(client.done[i], 3) for i in range(streams)]
        traces = client_config.quic_logger.to_dict()["traces"]
        return times, sum(deliveries_past_a_hole(trace["events"]) for trace in traces)
    finally:
        server.close()


def main(argv: list[str]) -> None:
    streams, size, period, offset = (int(a) for a in argv[:4])
    setup_namespace(period, offset)
    tcp, tcp_retransmitted, tcp_held = tcp_download(streams, size)
    tcp_dropped = dropped()
    quic, quic_past_holes = asyncio.run(quic_download(streams, size))
    report = {
        "tcp_ms": tcp,
        "quic_ms": quic,
        "tcp_dropped": tcp_dropped,
        "dropped": dropped(),
        "tcp_retransmitted": tcp_retransmitted,
        "tcp_held_out_of_order": tcp_held,
        "quic_deliveries_past_a_hole": quic_past_holes,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
