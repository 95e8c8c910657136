"""Discord's data service on loopback for ``archlab case discord serve`` (codex 10.2)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

from archlab.cases.discord.service import DataService
from archlab.cases.discord.store import CostlyStore


async def run_services(
    instances: int,
    base_port: int,
    read_ms: float,
    coalesce: bool,
    duration: float,
    say: Callable[[str], None],
) -> None:
    with tempfile.TemporaryDirectory(prefix="archlab-discord-") as scratch:
        store = CostlyStore(Path(scratch), read_ms=read_ms)
        for c in range(100):
            store.put(f"channel:{c}".encode(), f"the latest messages of channel {c}".encode())
        services = [DataService(store, coalesce) for _ in range(instances)]
        try:
            for i, service in enumerate(services):
                await service.start(base_port + i if base_port else 0)
            say("data services on " + ", ".join(s.address for s in services))
            say("try: printf 'GET channel:7\\n' | nc -q1 " + services[0].address.replace(":", " "))
            loop = asyncio.get_running_loop()
            end = loop.time() + duration if duration > 0 else float("inf")
            while loop.time() < end:
                await asyncio.sleep(min(5.0, max(0.0, end - loop.time())))
                joined = sum(s.coalescer.joined for s in services if s.coalescer)
                say(
                    f"reads {sum(s.requests for s in services)}, store queries "
                    f"{store.queries}, reads that joined a query in flight {joined}"
                )
        finally:
            for service in services:
                await service.stop()
            store.close()
