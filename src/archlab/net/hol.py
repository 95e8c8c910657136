"""Head-of-line blocking (codex 3.3): N streams over QUIC vs over one ordered byte stream.

Both variants run on the same QUIC transport (aioquic: same loss recovery, same congestion
control) through the same simulated link and the same loss pattern
(:mod:`archlab.net.quic_link`); only how the N responses are carried differs:

* ``quic`` (HTTP/3-like): one QUIC stream per response; a lost packet holds back only the
  stream whose bytes it carried, because QUIC delivers each stream in order on its own.
* ``ordered`` (HTTP/2-over-TCP-like): the N responses are cut into frames, interleaved
  round-robin and written into **one** ordered byte stream, as HTTP/2 does over a TCP
  connection; a lost packet holds back every byte behind it, whatever response it belongs to.

Response ``i`` of N is ``size · (i+1) / N`` bytes, so the streams finish one after another, as
a page's resources do. aioquic sends its streams round-robin a packet at a time; the ordered
variant's frames are packet-sized (1 KiB) so that both carry the bytes in nearly the same
order and differ only in delivery (HTTP/2 allows frames up to 16 KiB; bigger frames would add
a scheduling difference on top of the one measured here).

A stream's completion time is when its last byte reaches the client application, counted
from the end of the handshake.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Literal

from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import HandshakeCompleted, QuicEvent, StreamDataReceived

from archlab.net.quic_link import Application, LinkSimulation

Variant = Literal["quic", "ordered"]
VARIANTS: tuple[Variant, ...] = ("quic", "ordered")
FRAME = 1024
_HEADER = struct.Struct("!IIB")  # response index, payload length, END flag


@dataclass
class _Client(Application):
    streams: int
    variant: Variant
    started_at: float | None = None
    finished: dict[int, float] = field(default_factory=dict)
    _buffer: bytearray = field(default_factory=bytearray)
    _ids: dict[int, int] = field(default_factory=dict)

    def started(self, quic: QuicConnection, now: float) -> None:
        if self.variant == "quic":
            for i in range(self.streams):
                sid = quic.get_next_available_stream_id()
                self._ids[sid] = i
                quic.send_stream_data(sid, b"GET %d" % i, end_stream=True)
        else:
            sid = quic.get_next_available_stream_id()
            requests = b"".join(_HEADER.pack(i, 0, 1) for i in range(self.streams))
            quic.send_stream_data(sid, requests, end_stream=False)

    def handle(self, quic: QuicConnection, event: QuicEvent, now: float) -> None:
        if isinstance(event, HandshakeCompleted):
            self.started_at = now
        elif isinstance(event, StreamDataReceived):
            if self.variant == "quic":
                if event.end_stream:
                    self.finished[self._ids[event.stream_id]] = now
                return
            self._buffer += event.data
            self._parse(now)

    def _parse(self, now: float) -> None:
        view = self._buffer
        offset = 0
        while len(view) - offset >= _HEADER.size:
            index, length, end = _HEADER.unpack_from(view, offset)
            if len(view) - offset - _HEADER.size < length:
                break
            offset += _HEADER.size + length
            if end:
                self.finished[index] = now
        del view[:offset]

    def done(self) -> bool:
        return len(self.finished) == self.streams

    def completion_ms(self) -> list[float]:
        start = self.started_at or 0.0
        return [round((self.finished[i] - start) * 1000, 3) for i in range(self.streams)]


@dataclass
class _Server(Application):
    size: int
    variant: Variant
    streams: int
    _pending: bytearray = field(default_factory=bytearray)
    _answered: bool = False

    @property
    def sizes(self) -> list[int]:
        return response_sizes(self.size, self.streams)

    def handle(self, quic: QuicConnection, event: QuicEvent, now: float) -> None:
        if not isinstance(event, StreamDataReceived):
            return
        if self.variant == "quic":
            if event.end_stream:
                index = int(event.data.split()[-1])
                quic.send_stream_data(event.stream_id, b"r" * self.sizes[index], end_stream=True)
            return
        self._pending += event.data
        if not self._answered and len(self._pending) >= self.streams * _HEADER.size:
            self._answered = True
            quic.send_stream_data(event.stream_id, self.interleaved(), end_stream=True)

    def interleaved(self) -> bytes:
        """The N responses as HTTP/2-style frames, round-robin, in one byte stream."""
        out = bytearray()
        sizes = self.sizes
        sent = [0] * self.streams
        while any(s < n for s, n in zip(sent, sizes, strict=True)):
            for i in range(self.streams):
                if sent[i] >= sizes[i]:
                    continue
                n = min(FRAME, sizes[i] - sent[i])
                sent[i] += n
                out += _HEADER.pack(i, n, int(sent[i] >= sizes[i])) + b"r" * n
        return bytes(out)


def response_sizes(size: int, streams: int) -> list[int]:
    """Response ``i`` is ``size · (i+1) / streams`` bytes (the last one is ``size``)."""
    return [max(1, size * (i + 1) // streams) for i in range(streams)]


@dataclass(frozen=True)
class HolRun:
    variant: str
    completion_ms: list[float]
    dropped: int
    seconds: float


def run_streams(
    variant: Variant,
    *,
    streams: int = 8,
    size: int = 64 * 1024,
    delay: float = 0.02,
    bits_per_second: float = 20e6,
    down_drops: frozenset[int] = frozenset(),
    up_drops: frozenset[int] = frozenset(),
) -> HolRun:
    """Download ``streams`` responses of ``size`` bytes the ``variant`` way; per-stream times."""
    client = _Client(streams, variant)
    sim = LinkSimulation(
        client,
        _Server(size, variant, streams),
        delay=delay,
        bits_per_second=bits_per_second,
        down_drops=down_drops,
        up_drops=up_drops,
    )
    end = sim.run()
    if not client.done():
        raise RuntimeError(f"{variant}: only {len(client.finished)}/{streams} streams finished")
    return HolRun(variant, client.completion_ms(), sim.down.dropped + sim.up.dropped, end)
