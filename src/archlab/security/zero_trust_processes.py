"""The zero-trust demo with one process per service (codex 9.4).

The parent runs the workload API (the agent) on a Unix socket and starts ``payments``, then
``orders``, then ``frontend`` as separate Python processes. After starting each it registers
an entry for that child's pid, so the agent attests each process by what the kernel says about
it (``SO_PEERCRED``) and hands it the one SVID it is entitled to. Each service fetches its SVID
(retrying until its entry exists), serves mTLS with its allow-list, rotates at half-life, and
``frontend`` calls ``orders`` (which calls ``payments``) for a while, printing one JSON line per
event; the parent relays them. Run a service by hand with
``python -m archlab.security.zero_trust_processes NAME --socket PATH [--orders-port P]
[--payments-port P] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import archlab
from archlab.security.mtls import CallFailed, MtlsConnection, MtlsServer, Rotator, TlsIdentity, call
from archlab.security.spiffe import IdentityError, SpiffeId, TrustDomainAuthority
from archlab.security.workload_api import RegistrationEntry, WorkloadApiServer, fetch_identity
from archlab.security.zero_trust import NAMESPACE, POLICY, TRUST_DOMAIN


def _emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def _identity(socket_path: Path, name: str) -> TlsIdentity:
    deadline = time.monotonic() + 20
    while True:
        try:
            fetched = await fetch_identity(socket_path)
            return TlsIdentity(fetched.svid(name), fetched.bundle_pem)
        except IdentityError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)  # not registered yet: the parent is about to


async def service(name: str, socket_path: Path, ports: dict[str, int], seconds: float) -> None:
    """One workload: fetch its SVID, serve (orders, payments) or call (frontend)."""
    identity = await _identity(socket_path, name)
    rotator = Rotator(socket_path, {name: identity})
    rotator.start()
    ids = {n: SpiffeId(TRUST_DOMAIN, NAMESPACE, n) for n in ("frontend", "orders", "payments")}

    async def payments(caller: SpiffeId, request: dict[str, Any]) -> dict[str, Any]:
        return {"charged": request.get("amount", 1), "caller": str(caller)}

    async def orders(caller: SpiffeId, request: dict[str, Any]) -> dict[str, Any]:
        conn = await MtlsConnection.open(identity, ports["payments"], ids["payments"])
        try:
            charged = await conn.request("/charge", amount=request.get("amount", 1))
        finally:
            await conn.close()
        return {"order": "placed", "caller": str(caller), "payment": charged}

    try:
        if name in POLICY:
            server = MtlsServer(
                identity, {ids[c] for c in POLICY[name]}, orders if name == "orders" else payments
            )
            await server.start()
            _emit(ready=name, port=server.port, spiffe_id=str(identity.spiffe_id))
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until closed
            await server.close()
        else:
            await _frontend(identity, ports, ids, seconds, rotator)
    finally:
        await rotator.stop()


async def _frontend(
    identity: TlsIdentity,
    ports: dict[str, int],
    ids: dict[str, SpiffeId],
    seconds: float,
    rotator: Rotator,
) -> None:
    _emit(ready="frontend", spiffe_id=str(identity.spiffe_id))
    try:
        await call(identity, ports["payments"], ids["payments"], "/charge")
        _emit(event="frontend -> payments directly", outcome="served (policy broken!)")
    except CallFailed as exc:
        _emit(event="frontend -> payments directly", outcome=f"refused: {exc}")
    ok = failed = 0
    seen = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            answer = await call(identity, ports["orders"], ids["orders"], "/place")
            ok += 1
            if ok == 1:
                _emit(
                    event="frontend -> orders -> payments",
                    outcome=answer["order"],
                    charged_by=answer["payment"]["server"],
                )
        except CallFailed as exc:
            failed += 1
            _emit(event="call failed", outcome=str(exc))
        if identity.generation != seen:
            seen = identity.generation
            _emit(
                event="SVID",
                generation=seen,
                serial=f"{identity.svid.leaf().serial_number:x}"[:12],
                expires_in_s=round(identity.svid.not_after - time.time(), 1),
            )
        await asyncio.sleep(0.05)
    _emit(done=True, answered=ok, failed=failed, rotations=rotator.rotations)


async def run_demo(
    workdir: Path, seconds: float, ttl_s: float, echo: Callable[[str], None]
) -> dict[str, Any]:
    """Agent here, one process per service; returns the frontend's final tally."""
    authority = TrustDomainAuthority(TRUST_DOMAIN, time.time)
    socket_path = workdir / "workload.sock"
    agent = WorkloadApiServer(authority, socket_path, ttl_s)
    await agent.start()
    children: list[asyncio.subprocess.Process] = []
    ports: dict[str, int] = {}
    final: dict[str, Any] = {}
    try:
        for name in ("payments", "orders", "frontend"):
            args = [
                sys.executable,
                "-m",
                "archlab.security.zero_trust_processes",
                name,
                "--socket",
                str(socket_path),
                "--seconds",
                str(seconds),
            ]
            args += [a for n, p in ports.items() for a in (f"--{n}-port", str(p))]
            child = await asyncio.create_subprocess_exec(
                *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_child_env()
            )
            children.append(child)
            agent.register(RegistrationEntry(authority.id(NAMESPACE, name), pid=child.pid))
            assert child.stdout is not None
            line = await asyncio.wait_for(child.stdout.readline(), 60)
            if not line:
                raise IdentityError(f"service {name} exited before it was ready")
            ready = json.loads(line)
            echo(
                f"{name} (pid {child.pid}) is {ready['spiffe_id']}"
                + (f", mTLS on 127.0.0.1:{ready['port']}" if "port" in ready else "")
            )
            if "port" in ready:
                ports[name] = int(ready["port"])
        frontend = children[-1]
        assert frontend.stdout is not None
        while line := await frontend.stdout.readline():
            message = json.loads(line)
            if message.get("done"):
                final = message
                continue
            event = message.pop("event", "")
            echo(f"{event}: " + ", ".join(f"{k} {v}" for k, v in message.items()))
        await frontend.wait()
    finally:
        for child in children:
            if child.stdin is not None and not child.stdin.is_closing():
                child.stdin.close()
        for child in children:
            try:
                await asyncio.wait_for(child.wait(), 10)
            except TimeoutError:
                child.kill()
                await child.wait()
        await agent.close()
    final["issued"] = agent.issued
    return final


def _child_env() -> dict[str, str]:
    """This environment, with the directory archlab is imported from first on the path."""
    source = str(Path(archlab.__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{source}{os.pathsep}{path}" if path else source}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one zero-trust demo service")
    parser.add_argument("name", choices=["frontend", "orders", "payments"])
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--orders-port", type=int, default=0)
    parser.add_argument("--payments-port", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=5.0)
    a = parser.parse_args(argv)
    ports = {"orders": a.orders_port, "payments": a.payments_port}
    asyncio.run(service(a.name, a.socket, ports, a.seconds))


if __name__ == "__main__":
    main()
