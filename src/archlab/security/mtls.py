"""Mutual TLS between workloads with SPIFFE IDs, authorization by ID, hot rotation (9.4).

Both sides present their X.509-SVID and verify the peer's chain against the trust bundle with
Python's :mod:`ssl` (TLS 1.3 only). Host names play no part: after the handshake each side reads
the peer's SPIFFE ID from its URI SAN; the server checks it against its allow-list (403 when
absent), and the client checks the server is the workload it meant to call.

Rotation: a :class:`TlsIdentity` rebuilds its two ``SSLContext``s whenever its SVID or bundle
changes. Clients take the current context for each new connection; the server keeps one
listening context whose SNI callback hands every new handshake the current context, so a new
certificate or bundle applies to the next handshake while connections already established
carry on untouched (TLS does not re-check a certificate after the handshake).
:class:`Rotator` fetches fresh SVIDs from the workload API at half their lifetime.

Wire format: one JSON object per line each way over the TLS connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from archlab.security.spiffe import IdentityError, SpiffeId, Svid
from archlab.security.workload_api import fetch_identity

Handler = Callable[[SpiffeId, dict[str, Any]], Awaitable[dict[str, Any]]]


class CallFailed(Exception):
    """A call that failed: ``kind`` is handshake, forbidden, wrong_server or upstream."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def _context(purpose: int, svid: Svid, bundle_pem: bytes) -> ssl.SSLContext:
    ctx = ssl.SSLContext(purpose)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False  # SPIFFE identities are URIs, checked after the handshake
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=bundle_pem.decode())
    with tempfile.TemporaryDirectory(prefix="svid-") as tmp:  # ssl loads keys from files only
        chain, key = Path(tmp) / "chain.pem", Path(tmp) / "key.pem"
        key.touch(mode=0o600)
        key.write_bytes(svid.key_pem)
        chain.write_bytes(svid.chain_pem)
        ctx.load_cert_chain(chain, key)
    return ctx


def peer_id(peercert: dict[str, Any] | None) -> SpiffeId:
    """The SPIFFE ID in a verified peer certificate (as ``getpeercert()`` gives it)."""
    uris = [v for k, v in (peercert or {}).get("subjectAltName", ()) if k == "URI"]
    if len(uris) != 1:
        raise IdentityError(f"peer certificate has {len(uris)} URI SANs, an SVID has one")
    return SpiffeId.parse(uris[0])


class TlsIdentity:
    """A workload's current SVID and bundle, as server and client ``SSLContext``s."""

    def __init__(self, svid: Svid, bundle_pem: bytes) -> None:
        self.generation = 0
        self.update(svid, bundle_pem)

    def update(self, svid: Svid, bundle_pem: bytes) -> None:
        server = _context(ssl.PROTOCOL_TLS_SERVER, svid, bundle_pem)
        client = _context(ssl.PROTOCOL_TLS_CLIENT, svid, bundle_pem)
        self.svid, self.bundle_pem = svid, bundle_pem
        self.server_context, self.client_context = server, client
        self.generation += 1

    @property
    def spiffe_id(self) -> SpiffeId:
        return self.svid.spiffe_id


class MtlsServer:
    """Serves ``handler`` over mTLS to callers whose SPIFFE ID is in ``allowed``."""

    def __init__(self, identity: TlsIdentity, allowed: set[SpiffeId], handler: Handler) -> None:
        self.identity = identity
        self.allowed = allowed
        self.handler = handler
        self.port = 0
        self.open_connections = 0
        self.forbidden = 0
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        listening = _context(ssl.PROTOCOL_TLS_SERVER, self.identity.svid, self.identity.bundle_pem)
        listening.sni_callback = self._current_context
        self._server = await asyncio.start_server(self._serve, host, port, ssl=listening)
        self.port = self._server.sockets[0].getsockname()[1]

    def _current_context(self, conn: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        conn.context = self.identity.server_context

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.open_connections += 1
        try:
            caller = peer_id(writer.get_extra_info("peercert"))
            if caller not in self.allowed:
                self.forbidden += 1
                await _send(writer, {"status": 403, "error": f"{caller} is not allowed"})
                return
            while line := await reader.readline():
                request = json.loads(line)
                answer = await self.handler(caller, request)
                await _send(
                    writer, {"status": 200, "server": str(self.identity.spiffe_id), **answer}
                )
        except (ConnectionError, ssl.SSLError, IdentityError, ValueError, asyncio.CancelledError):
            pass
        finally:
            self.open_connections -= 1
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(json.dumps(message).encode() + b"\n")
    await writer.drain()


class MtlsConnection:
    """A client connection to one workload, checked to be the one ``expect`` names."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(
        cls, identity: TlsIdentity, port: int, expect: SpiffeId, host: str = "127.0.0.1"
    ) -> MtlsConnection:
        try:
            reader, writer = await asyncio.open_connection(
                host, port, ssl=identity.client_context, server_hostname=None
            )
        except (ssl.SSLError, ConnectionError) as exc:
            raise CallFailed("handshake", str(exc)) from exc
        try:
            server = peer_id(writer.get_extra_info("peercert"))
        except IdentityError as exc:
            writer.close()
            raise CallFailed("wrong_server", str(exc)) from exc
        if server != expect:
            writer.close()
            raise CallFailed("wrong_server", f"expected {expect}, reached {server}")
        return cls(reader, writer)

    async def request(self, path: str, **fields: Any) -> dict[str, Any]:
        try:
            await _send(self.writer, {"path": path, **fields})
            line = await self.reader.readline()
        except (ssl.SSLError, ConnectionError) as exc:
            raise CallFailed("handshake", str(exc)) from exc
        if not line:
            raise CallFailed("handshake", "server closed the connection (certificate refused)")
        answer: dict[str, Any] = json.loads(line)
        if answer.get("status") == 403:
            raise CallFailed("forbidden", str(answer.get("error")))
        if answer.get("status") != 200:
            raise CallFailed("upstream", str(answer.get("error")))
        return answer

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


async def call(identity: TlsIdentity, port: int, expect: SpiffeId, path: str) -> dict[str, Any]:
    """One request on a fresh connection."""
    conn = await MtlsConnection.open(identity, port, expect)
    try:
        return await conn.request(path)
    finally:
        await conn.close()


class Rotator:
    """Keeps identities fresh: refetches from the workload API at half the SVIDs' lifetime."""

    def __init__(self, socket_path: Path, identities: dict[str, TlsIdentity]) -> None:
        self.socket_path = socket_path
        self.identities = identities
        self.rotations = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        fetched = await fetch_identity(self.socket_path)
        for name, identity in self.identities.items():
            identity.update(fetched.svid(name), fetched.bundle_pem)
        self.rotations += 1
        self.failures = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            soonest = min(i.svid.not_after for i in self.identities.values())
            await asyncio.sleep(max(0.05, (soonest - time.time()) / 2))
            try:
                await self.refresh()
            except IdentityError:  # the agent is away: try again soon, the SVIDs still live
                self.failures += 1

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
