"""The workload API: a local Unix socket that attests a process and hands it its SVIDs (9.4).

As SPIFFE's workload API does, the workload proves nothing by itself: the agent asks the kernel
who is on the other end of the socket (``SO_PEERCRED``: pid, uid, gid), looks up the process'
executable in ``/proc``, and matches these against registration entries. Every entry whose
selectors all match entitles the workload to one SVID; the answer carries the SVIDs (leaf and
intermediate, private key) and the trust bundle. A process no entry matches gets an error.

Protocol: one JSON line each way. The matching rule is pure, in
:mod:`archlab.security.attestation`; the server and the client (:func:`fetch_identity`) here
are the thin asyncio hosts around it.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archlab.security.attestation import PeerCredentials, RegistrationEntry, attest
from archlab.security.spiffe import IdentityError, SpiffeId, Svid, TrustDomainAuthority

__all__ = [
    "PeerCredentials",
    "RegistrationEntry",
    "WorkloadApiServer",
    "WorkloadIdentity",
    "attest",
    "fetch_identity",
    "peer_credentials",
]

MAX_LINE = 1 << 20


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    """Ask the kernel who is on the other end of a Unix socket (Linux ``SO_PEERCRED``)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    try:
        exe: str | None = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = None
    return PeerCredentials(pid, uid, gid, exe)


@dataclass(frozen=True)
class WorkloadIdentity:
    """What the workload API hands a workload."""

    svids: tuple[Svid, ...]
    bundle_pem: bytes

    def svid(self, name: str) -> Svid:
        for svid in self.svids:
            if svid.spiffe_id.name == name:
                return svid
        raise IdentityError(
            f"no SVID named {name!r} among {[str(s.spiffe_id) for s in self.svids]}"
        )


class WorkloadApiServer:
    """The agent's side: attests each caller and issues it short-lived SVIDs."""

    def __init__(self, authority: TrustDomainAuthority, path: Path, ttl_s: float) -> None:
        self.authority = authority
        self.path = path
        self.ttl_s = ttl_s
        self.entries: list[RegistrationEntry] = []
        self.issued = 0
        self.denied = 0
        self._server: asyncio.AbstractServer | None = None

    def register(self, entry: RegistrationEntry) -> None:
        self.entries.append(entry)

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        os.chmod(self.path, 0o666)  # anyone local may ask; attestation decides what they get

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readline()
            peer = peer_credentials(writer.get_extra_info("socket"))
            ids = attest(peer, self.entries)
            if not ids:
                self.denied += 1
                answer: dict[str, Any] = {
                    "error": f"no registration entry matches pid={peer.pid} uid={peer.uid}"
                }
            else:
                svids = [self.authority.issue(i, self.ttl_s) for i in ids]
                self.issued += len(svids)
                answer = {
                    "svids": [
                        {
                            "spiffe_id": str(s.spiffe_id),
                            "chain_pem": s.chain_pem.decode(),
                            "key_pem": s.key_pem.decode(),
                            "not_after": s.not_after,
                        }
                        for s in svids
                    ],
                    "bundle_pem": self.authority.bundle_pem().decode(),
                }
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


async def fetch_identity(path: Path) -> WorkloadIdentity:
    """The workload's side: ask the local agent for this process' SVIDs and bundle."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=MAX_LINE)
    except OSError as exc:
        raise IdentityError(f"workload API at {path}: {exc.strerror or exc}") from exc
    try:
        writer.write(b'{"op": "fetch_x509_svid"}\n')
        await writer.drain()
        line = await reader.readline()
    finally:
        writer.close()
    try:
        answer = json.loads(line)
    except ValueError as exc:
        raise IdentityError(f"workload API at {path}: unreadable answer") from exc
    if "error" in answer:
        raise IdentityError(f"workload API at {path}: {answer['error']}")
    svids = tuple(
        Svid(
            SpiffeId.parse(s["spiffe_id"]),
            s["chain_pem"].encode(),
            s["key_pem"].encode(),
            float(s["not_after"]),
        )
        for s in answer["svids"]
    )
    return WorkloadIdentity(svids, answer["bundle_pem"].encode())
