"""One Ringpop member on real sockets: SWIM over UDP, request forwarding over TCP (codex 10.5).

A :class:`RingpopNode` hosts the sans-IO :class:`~archlab.cases.ringpop.swim.Swim` core on an
asyncio UDP endpoint (one JSON datagram per SWIM message) and listens on TCP at the same port
number for forwarded requests, framed with :mod:`archlab.runtime.framing`. Its identity is
``127.0.0.1:<port>``, which is also what the hash ring hashes.

:meth:`RingpopNode.handle_or_forward` is Ringpop's ``handleOrProxy``: the node looks the key up
on its ring built from the live membership; if it owns the key it runs the handler, otherwise
it forwards the request, with its ring checksum, to the owner. The owner refuses a request
whose checksum differs from its own (the two would not agree on who owns the key), and the
sender retries after a pause, by which time gossip has usually made the rings converge.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any

from archlab.cases.ringpop.ring import HashRing
from archlab.cases.ringpop.swim import (
    Ack,
    Join,
    JoinAck,
    Message,
    Outbound,
    Ping,
    PingReq,
    Swim,
    SwimConfig,
    Update,
)
from archlab.errors import UnavailableError
from archlab.runtime.framing import FrameDecoder, frame

Handler = Callable[[str, str], str]


def encode(message: Message) -> bytes:
    """One SWIM message as a JSON datagram."""
    body: dict[str, Any] = {"t": type(message).__name__, "u": _updates(message.updates)}
    if isinstance(message, Ping):
        body |= {"seq": message.seq, "ck": message.checksum}
    elif isinstance(message, Ack):
        body |= {"seq": message.seq, "full": _updates(message.full_sync)}
    elif isinstance(message, PingReq):
        body |= {"seq": message.seq, "target": message.target}
    elif isinstance(message, JoinAck):
        body |= {"members": _updates(message.members)}
    return json.dumps(body, separators=(",", ":")).encode()


def decode(data: bytes) -> Message:
    """The inverse of :func:`encode`; raises ``ValueError`` on anything malformed."""
    try:
        body = json.loads(data)
        kind, updates = body["t"], _parse(body["u"])
        if kind == "Ping":
            return Ping(int(body["seq"]), updates, int(body["ck"]))
        if kind == "Ack":
            return Ack(int(body["seq"]), updates, _parse(body["full"]))
        if kind == "PingReq":
            return PingReq(int(body["seq"]), str(body["target"]), updates)
        if kind == "Join":
            return Join(updates)
        if kind == "JoinAck":
            return JoinAck(_parse(body["members"]), updates)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed SWIM datagram: {exc}") from None
    raise ValueError(f"unknown SWIM message type {kind!r}")


def _updates(updates: tuple[Update, ...]) -> list[list[Any]]:
    return [[u.member, u.status, u.incarnation] for u in updates]


def _parse(rows: list[list[Any]]) -> tuple[Update, ...]:
    out = []
    for member, status, incarnation in rows:
        if status not in ("alive", "suspect", "faulty"):
            raise ValueError(f"unknown status {status!r}")
        out.append(Update(str(member), status, int(incarnation)))
    return tuple(out)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, node: RingpopNode) -> None:
        self.node = node

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.node._on_datagram(data, f"{addr[0]}:{addr[1]}")


class RingpopNode:
    """A member on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        config: SwimConfig | None = None,
        handler: Handler | None = None,
        seed: int | None = None,
        retries: int = 20,
        retry_delay: float = 0.1,
    ) -> None:
        self.config = config or SwimConfig(period=0.2, ping_timeout=0.1)
        self.handler: Handler = handler or (lambda key, payload: f"{self.me} handled {key}")
        self.retries = retries
        self.retry_delay = retry_delay
        self._rng = random.Random(seed)
        self.me = ""
        self.swim: Swim | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._ring: HashRing | None = None
        self._ring_version = -1
        #: Forwarded requests this node refused, and refusals it got back and retried.
        self.refused = 0
        self.retried = 0
        self.handled = 0
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, seeds: list[str] | None = None) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(20):
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self), local_addr=("127.0.0.1", 0)
            )
            port = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve, "127.0.0.1", port)
            except OSError:
                transport.close()
                continue
            self._udp = transport
            break
        else:
            raise UnavailableError("no port free for both UDP and TCP on 127.0.0.1")
        self.me = f"127.0.0.1:{port}"
        self.swim = Swim(self.me, self._rng, self.config, loop.time(), [self.me])
        if seeds:
            self._send(self.swim.join(loop.time(), seeds))
        self._schedule()

    async def stop(self) -> None:
        """Stop answering at once, as a crash would (no goodbye)."""
        if self._timer is not None:
            self._timer.cancel()
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._tcp.wait_closed()
        self._udp = None

    @property
    def ring(self) -> HashRing:
        swim = self._core()
        if self._ring is None or self._ring_version != swim.version:
            self._ring = HashRing(swim.ring_members())
            self._ring_version = swim.version
        return self._ring

    async def handle_or_forward(self, key: str, payload: str = "") -> str:
        """Handle ``key`` here if this node owns it, else forward it to the owner."""
        for _ in range(self.retries):
            ring = self.ring
            owner = ring.lookup(key)
            if owner == self.me:
                self.handled += 1
                return self.handler(key, payload)
            reply = await self._forward(owner, key, payload, ring.checksum)
            if "ok" in reply:
                return str(reply["ok"])
            self.retried += 1
            await asyncio.sleep(self.retry_delay)
        raise UnavailableError(
            f"{self.me}: no owner of {key!r} accepted it after {self.retries} tries"
        )

    # -- plumbing --------------------------------------------------------------------------

    def _core(self) -> Swim:
        if self.swim is None:
            raise RuntimeError("the node is not started")
        return self.swim

    async def _forward(self, owner: str, key: str, payload: str, checksum: int) -> dict[str, Any]:
        host, port = owner.rsplit(":", 1)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 1.0)
        except (OSError, TimeoutError):
            return {"error": f"{owner} unreachable"}
        try:
            request = {"key": key, "payload": payload, "checksum": checksum}
            writer.write(frame(json.dumps(request).encode()))
            decoder = FrameDecoder(max_frame=1 << 20)
            while True:
                data = await asyncio.wait_for(reader.read(65536), 2.0)
                if not data:
                    return {"error": f"{owner} closed the connection"}
                bodies = decoder.feed(data)
                if bodies:
                    answer: dict[str, Any] = json.loads(bodies[0])
                    return answer
        except (OSError, TimeoutError, ValueError) as exc:
            return {"error": f"{owner}: {exc}"}
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)
        decoder = FrameDecoder(max_frame=1 << 20)
        try:
            while data := await reader.read(65536):
                for body in decoder.feed(data):
                    writer.write(frame(json.dumps(self._answer(body)).encode()))
                await writer.drain()
        except (OSError, ValueError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def _answer(self, body: bytes) -> dict[str, Any]:
        try:
            request = json.loads(body)
            key, payload, checksum = (
                str(request["key"]),
                str(request["payload"]),
                request["checksum"],
            )
        except (KeyError, TypeError, ValueError):
            return {"error": "malformed request"}
        ring = self.ring
        if checksum != ring.checksum:
            self.refused += 1
            return {"error": "ring checksum mismatch", "checksum": ring.checksum}
        if ring.lookup(key) != self.me:
            return {"error": "not the owner"}
        self.handled += 1
        return {"ok": self.handler(key, payload)}

    def _on_datagram(self, data: bytes, src: str) -> None:
        try:
            message = decode(data)
        except ValueError:
            return
        loop = asyncio.get_running_loop()
        self._send(self._core().receive(loop.time(), src, message))
        self._schedule()

    def _wake(self) -> None:
        self._timer = None
        self._send(self._core().tick(asyncio.get_running_loop().time()))
        self._schedule()

    def _send(self, out: list[Outbound]) -> None:
        if self._udp is None:
            return
        for item in out:
            host, port = item.to.rsplit(":", 1)
            self._udp.sendto(encode(item.message), (host, int(port)))

    def _schedule(self) -> None:
        if self._udp is None:
            return
        deadline = self._core().next_deadline()
        if self._timer is not None:
            if self._timer.when() == deadline:
                return
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_at(deadline, self._wake)
