"""Three services calling each other over mTLS with rotating SVIDs: the zero-trust demo (9.4).

``frontend`` calls ``orders``, which calls ``payments`` to charge; every hop is mTLS with
SVIDs from the workload API (attested by this process' uid and pid over the Unix socket) and
every server authorizes its caller by SPIFFE ID: ``orders`` admits ``frontend``, ``payments``
admits only ``orders``. Nothing trusts the network: a caller on loopback without an SVID of the
trust domain gets no further than the handshake. :class:`Mesh` runs it in one event loop; the
``archlab zero-trust demo`` command and ``security.mtls_identity`` both drive it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from archlab.security.mtls import MtlsConnection, MtlsServer, Rotator, TlsIdentity
from archlab.security.spiffe import SpiffeId, TrustDomainAuthority
from archlab.security.workload_api import RegistrationEntry, WorkloadApiServer, fetch_identity

TRUST_DOMAIN = "prod.archlab.test"
NAMESPACE = "shop"
SERVICES = ("frontend", "orders", "payments")
#: Who may call whom: server -> the callers it admits.
POLICY = {"orders": ("frontend",), "payments": ("orders",)}
#: sockaddr_un holds 108 bytes on Linux, the terminating NUL included.
UNIX_PATH_MAX = 100


class Mesh:
    """The authority, the workload API and the three services, in the running event loop."""

    def __init__(self, workdir: Path, ttl_s: float = 60.0) -> None:
        self.authority = TrustDomainAuthority(TRUST_DOMAIN, time.time)
        self._short_dir: str | None = None
        if len(str(workdir / "workload.sock")) > UNIX_PATH_MAX:  # a Unix socket path is short
            self._short_dir = tempfile.mkdtemp(prefix="archlab-zt-")
            workdir = Path(self._short_dir)
        self.socket_path = workdir / "workload.sock"
        self.agent = WorkloadApiServer(self.authority, self.socket_path, ttl_s)
        self.identities: dict[str, TlsIdentity] = {}
        self.servers: dict[str, MtlsServer] = {}
        self.rotator: Rotator | None = None
        self.charges = 0

    def id(self, name: str) -> SpiffeId:
        return self.authority.id(NAMESPACE, name)

    async def start(self, rotate: bool = True) -> None:
        await self.agent.start()
        for name in SERVICES:  # this process runs all three workloads: it is entitled to three
            self.agent.register(RegistrationEntry(self.id(name), uid=os.getuid(), pid=os.getpid()))
        fetched = await fetch_identity(self.socket_path)
        self.identities = {n: TlsIdentity(fetched.svid(n), fetched.bundle_pem) for n in SERVICES}
        for server, callers in POLICY.items():
            allowed = {self.id(c) for c in callers}
            handler = self._orders if server == "orders" else self._payments
            self.servers[server] = MtlsServer(self.identities[server], allowed, handler)
            await self.servers[server].start()
        self.rotator = Rotator(self.socket_path, self.identities)
        if rotate:
            self.rotator.start()

    async def _orders(self, caller: SpiffeId, request: dict[str, Any]) -> dict[str, Any]:
        conn = await MtlsConnection.open(
            self.identities["orders"], self.servers["payments"].port, self.id("payments")
        )
        try:
            charged = await conn.request("/charge", amount=request.get("amount", 1))
        finally:
            await conn.close()
        return {"order": "placed", "caller": str(caller), "payment": charged}

    async def _payments(self, caller: SpiffeId, request: dict[str, Any]) -> dict[str, Any]:
        self.charges += 1
        return {"charged": request.get("amount", 0), "caller": str(caller)}

    def port(self, name: str) -> int:
        return self.servers[name].port

    async def close(self) -> None:
        if self.rotator is not None:
            await self.rotator.stop()
        for server in self.servers.values():
            await server.close()
        await self.agent.close()
        if self._short_dir is not None:
            shutil.rmtree(self._short_dir, ignore_errors=True)
