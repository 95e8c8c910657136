"""A closed-loop write load against a cluster's leader: commits per second and latency.

:func:`pipelined` opens ``connections`` TCP connections to the leader and ``depth`` client
sessions on each; every session keeps exactly one write outstanding (closed loop: send, wait for
the committed reply, send the next), so ``connections × depth`` writes are in flight. With
``depth=1`` that is the classic one-request-per-connection client. Every write is the same size
on the wire — ``Command(session, seq, Write(key, value))`` with a ``value_bytes``-character
value — so any two systems driven by this generator replicate commands of the same size. Only
writes answered ``ok`` within the measured window count as commits; latency is measured per
write, from send to reply, in the client.

The same generator drives archlab's cluster and the peer's
(:mod:`archlab.runtime.peers.pysyncobj_server` speaks the same client protocol), so the client
side costs both the same.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from archlab.consensus.client import (
    ClientRequest,
    ClientResponse,
    Command,
    OpenSession,
    Reply,
    Write,
)
from archlab.runtime.client import OutcomeUnknown
from archlab.runtime.codec import Frame, Hello
from archlab.runtime.transport import FramedConnection, connect


@dataclass
class LoadResult:
    commits: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    @property
    def commits_per_sec(self) -> float:
        return self.commits / self.seconds if self.seconds > 0 else 0.0


class _Pipeline:
    """One connection carrying ``depth`` sessions, each with one write outstanding."""

    def __init__(self, value: str, keys: int, offset: int, window: tuple[float, float]) -> None:
        self.value = value
        self.keys = keys
        self.counter = offset
        self.measure_from, self.stop_at = window
        self.conn: FramedConnection | None = None
        self.sessions: list[int] = []
        self.seq: list[int] = []
        self.inflight: dict[int, tuple[int, float]] = {}  # request id -> (slot, sent at)
        self.opening: dict[int, asyncio.Future[Reply]] = {}
        self.outgoing: list[Frame] = []
        self.flush_scheduled = False
        self.next_id = 1
        self.latencies: list[float] = []
        self.commits = 0
        self.errors = 0

    async def open(self, host: str, port: int, depth: int) -> None:
        self.conn = await connect(host, port, Hello("client"), self._on_frame, timeout=5.0)
        loop = asyncio.get_running_loop()
        for _ in range(depth):
            rid = self._id()
            self.opening[rid] = loop.create_future()
            self.conn.send(ClientRequest(0, rid, OpenSession()))
        replies = await asyncio.wait_for(asyncio.gather(*self.opening.values()), 10)
        for reply in replies:
            if reply.outcome != "ok" or not isinstance(reply.value, int):
                raise OutcomeUnknown(f"could not open a session: {reply}")
            self.sessions.append(reply.value)
            self.seq.append(0)

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def start(self) -> None:
        for slot in range(len(self.sessions)):
            self._issue(slot)
        self._flush()

    def _issue(self, slot: int) -> None:
        now = time.perf_counter()
        if now >= self.stop_at:
            return
        self.seq[slot] += 1
        self.counter += 1
        rid = self._id()
        op = Write(f"k{self.counter % self.keys}", self.value)
        self.inflight[rid] = (slot, now)
        self.outgoing.append(
            ClientRequest(0, rid, Command(self.sessions[slot], self.seq[slot], op))
        )

    def _on_frame(self, conn: FramedConnection, item: Frame) -> None:
        if not isinstance(item, ClientResponse):
            return
        opening = self.opening.pop(item.request_id, None)
        if opening is not None:
            opening.set_result(item.reply)
            return
        entry = self.inflight.pop(item.request_id, None)
        if entry is None:
            return
        slot, sent = entry
        done = time.perf_counter()
        if sent >= self.measure_from and done <= self.stop_at:
            if item.reply.outcome == "ok":
                self.commits += 1
                self.latencies.append((done - sent) * 1000)
            else:
                self.errors += 1
        self._issue(slot)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self.flush_scheduled = False
        if self.outgoing and self.conn is not None:
            self.conn.send_many(self.outgoing)
        self.outgoing = []


async def pipelined(
    address: tuple[str, int],
    *,
    connections: int,
    depth: int,
    seconds: float,
    warmup: float,
    value_bytes: int,
    keys: int = 1000,
) -> LoadResult:
    """``connections`` connections to the leader at ``address``, ``depth`` writes in flight each.

    Each of the ``connections × depth`` sessions keeps one write outstanding (a session allows
    no more); the responses that arrive together on a connection are answered with the next
    writes in one ``write`` call. Only the window after ``warmup`` is measured.
    """
    value = "v" * value_bytes
    started = time.perf_counter()
    window = (started + 3600, started + 7200)  # replaced once every session is open
    pipes = [_Pipeline(value, keys, i * 1_000_003, window) for i in range(connections)]
    await asyncio.gather(*(p.open(*address, depth) for p in pipes))
    measure_from = time.perf_counter() + warmup
    for p in pipes:
        p.measure_from, p.stop_at = measure_from, measure_from + seconds
        p.start()
    await asyncio.sleep(warmup + seconds + 0.05)
    for p in pipes:
        if p.conn is not None:
            p.conn.close()
    latencies = [x for p in pipes for x in p.latencies]
    return LoadResult(
        sum(p.commits for p in pipes), seconds, latencies, sum(p.errors for p in pipes)
    )
