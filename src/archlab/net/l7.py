"""The L7 load balancer (codex 3.1): terminates HTTP/1.1, routes each request on its own.

Each client connection is parsed with ``httptools``; every request is routed by path prefix,
host or header (:mod:`archlab.net.routing`), balanced within its pool by the policy, and
forwarded over a pooled keep-alive connection (:mod:`archlab.net.upstream`) with
``X-Forwarded-For`` appended and hop-by-hop headers removed. Requests on one connection are
answered in order (pipelining). An idempotent request whose backend fails is retried on
another backend; any request whose backend refused the connection is too (nothing was sent).
Failures feed the health tracker, and active checks (``GET /healthz``) eject and re-admit.

A request that does not parse gets ``400 Bad Request`` and its connection is closed; the
proxy logs one line and keeps serving every other connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import httptools

from archlab.net.backends import Backend
from archlab.net.balancer import Balancer
from archlab.net.routing import Router
from archlab.net.upstream import UpstreamError, UpstreamPool
from archlab.randomness import RandomSource

log = logging.getLogger("archlab.net.l7")

IDEMPOTENT = frozenset({b"GET", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"TRACE"})
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
    }
)
MAX_PIPELINE = 32


@dataclass
class _Request:
    method: bytes = b""
    url: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: list[bytes] = field(default_factory=list)
    keep_alive: bool = True
    bad: str = ""  # set when the request did not parse: answer 400 and close


def _simple_response(status: int, reason: str, text: str, close: bool) -> bytes:
    body = (text + "\n").encode()
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n"
    head += "Connection: close\r\n" if close else ""
    return head.encode() + b"\r\n" + body


class _ClientConnection(asyncio.Protocol):
    def __init__(self, proxy: L7Proxy) -> None:
        self.proxy = proxy
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.current = _Request()
        self.queue: asyncio.Queue[_Request] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None
        self.broken = False
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""
        self.proxy._clients.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.proxy._clients.discard(self)
        if self.worker is not None:
            self.worker.cancel()

    def eof_received(self) -> bool:
        # The client finished sending; answer what it asked before closing (half-close).
        self.eof = True
        return not (self.worker is None or self.worker.done())

    def data_received(self, data: bytes) -> None:
        if self.broken:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject("protocol upgrade is not supported")
        except httptools.HttpParserError as exc:
            self._reject(f"malformed request: {exc}")

    def _reject(self, why: str) -> None:
        self.broken = True
        self.proxy.bad_requests += 1
        log.warning("400 to %s: %s", self.peer, why)
        self._enqueue(_Request(bad=why, keep_alive=False))

    def on_message_begin(self) -> None:
        self.current = _Request()

    def on_url(self, url: bytes) -> None:
        self.current.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.current.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.current.body.append(body)

    def on_message_complete(self) -> None:
        self.current.method = self.parser.get_method()
        self.current.keep_alive = self.parser.should_keep_alive()
        self._enqueue(self.current)

    def _enqueue(self, request: _Request) -> None:
        self.queue.put_nowait(request)
        if self.transport is not None and self.queue.qsize() >= MAX_PIPELINE:
            self.transport.pause_reading()
        if self.worker is None or self.worker.done():
            self.worker = asyncio.get_running_loop().create_task(self._serve())

    async def _serve(self) -> None:
        while not self.queue.empty():
            request = self.queue.get_nowait()
            if request.bad:
                reply = _simple_response(400, "Bad Request", request.bad, close=True)
            else:
                reply = await self.proxy.forward(request, self.peer)
            if self.transport is None or self.transport.is_closing():
                return
            self.transport.write(reply)
            if not request.keep_alive:
                self.transport.close()
                return
            if self.queue.qsize() < MAX_PIPELINE // 2:
                self.transport.resume_reading()
        if self.eof and self.transport is not None:
            self.transport.close()


class L7Proxy:
    def __init__(
        self,
        router: Router,
        policy: str,
        rng: RandomSource,
        attempts: int = 3,
        timeout: float = 10.0,
        hash_on: str = "client",
        max_idle: int = 64,
    ) -> None:
        self.router = router
        self.balancers = {
            label: Balancer(backends, policy, rng) for label, backends in router.pools().items()
        }
        self.pool = UpstreamPool(max_idle=max_idle)
        self.attempts = attempts
        self.timeout = timeout
        self.hash_on = hash_on.lower()
        self.requests = 0
        self.retries = 0
        self.bad_requests = 0
        self.routed: dict[str, int] = dict.fromkeys(self.balancers, 0)
        self._server: asyncio.Server | None = None
        self._clients: set[_ClientConnection] = set()
        self._checks: asyncio.Task[None] | None = None

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, check_interval: float = 0.0
    ) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _ClientConnection(self), host, port, backlog=1024
        )
        if check_interval > 0:
            self._checks = loop.create_task(self._check_forever(check_interval))
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._checks is not None:
            self._checks.cancel()
        if self._server is not None:
            self._server.close()
            for client in list(self._clients):
                if client.transport is not None:
                    client.transport.abort()
            await self._server.wait_closed()
            self._server = None
        self.pool.close()

    def _key(self, request: _Request, peer: str, headers: dict[str, str]) -> str:
        if self.hash_on == "path":
            return request.url.decode("latin-1")
        if self.hash_on.startswith("header:"):
            return headers.get(self.hash_on[7:], peer)
        return peer

    async def forward(self, request: _Request, peer: str) -> bytes:
        self.requests += 1
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
        path = request.url.decode("latin-1")
        label = self.router.route(path, headers)
        self.routed[label] += 1
        balancer = self.balancers[label]
        wire = self._request_bytes(request, peer, headers)
        idempotent = request.method in IDEMPOTENT
        tried: set[str] = set()
        failure = "no backend is available"
        for attempt in range(self.attempts):
            backend = balancer.pick(self._key(request, peer, headers), exclude=tried)
            if backend is None:
                break
            tried.add(backend.name)
            if attempt:
                self.retries += 1
            balancer.opened(backend)
            sent = False
            try:
                reply = await self._exchange(backend, wire, request)
            except UpstreamError as exc:
                failure, sent = f"{backend}: {exc}", exc.sent
            except (OSError, TimeoutError) as exc:
                failure = f"{backend}: connect: {exc or 'timed out'}"
            else:
                balancer.succeeded(backend)
                return reply
            finally:
                balancer.closed(backend)
            balancer.failed(backend, failure)
            if sent and not idempotent:
                break  # the backend may have acted on it: never repeat a POST
        log.warning("502 for %s %s: %s", request.method.decode(), path, failure)
        return _simple_response(502, "Bad Gateway", failure, close=not request.keep_alive)

    async def _exchange(self, backend: Backend, wire: bytes, request: _Request) -> bytes:
        conn, _ = await self.pool.acquire(backend)
        response = await conn.exchange(wire, request.method == b"HEAD", self.timeout)
        self.pool.release(conn, response.keep_alive)
        head = [b"HTTP/1.1 %d %s\r\n" % (response.status, response.reason or b"Status")]
        for name, value in response.headers:
            if name.lower() not in HOP_BY_HOP:
                head.append(name + b": " + value + b"\r\n")
        length = len(response.body)
        if request.method == b"HEAD":
            length = next(
                (int(v) for k, v in response.headers if k.lower() == b"content-length"), 0
            )
        head.append(b"Content-Length: %d\r\n" % length)
        if not request.keep_alive:
            head.append(b"Connection: close\r\n")
        return b"".join(head) + b"\r\n" + response.body

    @staticmethod
    def _request_bytes(request: _Request, peer: str, headers: dict[str, str]) -> bytes:
        forwarded = headers.get("x-forwarded-for")
        xff = f"{forwarded}, {peer}" if forwarded else peer
        lines = [request.method + b" " + request.url + b" HTTP/1.1\r\n"]
        for name, value in request.headers:
            low = name.lower()
            if low not in HOP_BY_HOP and low != b"x-forwarded-for":
                lines.append(name + b": " + value + b"\r\n")
        body = b"".join(request.body)
        lines.append(b"X-Forwarded-For: " + xff.encode("latin-1") + b"\r\n")
        if body or request.method not in (b"GET", b"HEAD"):
            lines.append(b"Content-Length: %d\r\n" % len(body))
        return b"".join(lines) + b"\r\n" + body

    async def _check_forever(self, interval: float) -> None:
        backends: dict[str, tuple[Backend, list[Balancer]]] = {}
        for balancer in self.balancers.values():
            for b in balancer.backends.values():
                backends.setdefault(b.name, (b, []))[1].append(balancer)
        while True:
            await asyncio.sleep(interval)
            results = await asyncio.gather(*(probe(b, interval) for b, _ in backends.values()))
            for (backend, balancers), ok in zip(backends.values(), results, strict=True):
                for balancer in balancers:
                    if ok:
                        balancer.succeeded(backend)
                    else:
                        balancer.failed(backend, "health check failed")


async def probe(backend: Backend, timeout: float, path: str = "/healthz") -> bool:
    """One active health check: ``GET path`` on a fresh connection; a status under 500 is up."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(backend.host, backend.port), timeout
        )
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {backend}\r\nConnection: close\r\n\r\n".encode()
        )
        line = await asyncio.wait_for(reader.readline(), timeout)
        parts = line.split()
        return len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < 500
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


def all_backends(router: Router) -> Sequence[Backend]:
    return [b for pool in router.pools().values() for b in pool]
