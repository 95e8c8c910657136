"""The host that runs a load balancer or an origin until interrupted (``archlab lb serve``).

Start-up checks what can be checked before listening: the backend list parses and, unless
told not to, every backend accepts a TCP connection; otherwise one :class:`ConfigError` line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from archlab.errors import ConfigError
from archlab.net.backends import Backend
from archlab.net.balancer import Balancer
from archlab.net.l4 import L4Proxy
from archlab.net.l7 import L7Proxy
from archlab.net.origin import Origin
from archlab.net.routing import Route, Router
from archlab.randomness import seeded

log = logging.getLogger("archlab.net.serve")


@dataclass(frozen=True)
class ProxyConfig:
    mode: str
    backends: tuple[Backend, ...]
    routes: tuple[Route, ...] = ()
    policy: str = "round-robin"
    host: str = "127.0.0.1"
    port: int = 0
    check_interval: float = 1.0
    hash_on: str = "client"
    seed: int = 0
    startup_check: bool = True


async def check_reachable(backends: Sequence[Backend], timeout: float = 1.0) -> None:
    for backend in backends:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(backend.host, backend.port), timeout
            )
        except (OSError, TimeoutError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "timed out"
            raise ConfigError(f"backend {backend} is unreachable: {reason}") from None
        writer.close()


async def start_proxy(config: ProxyConfig) -> tuple[L4Proxy | L7Proxy, int]:
    everything = [*config.backends, *(b for r in config.routes for b in r.backends)]
    if config.startup_check:
        await check_reachable(list(dict.fromkeys(everything)))
    rng = seeded(config.seed)
    if config.mode == "l4":
        if config.routes:
            raise ConfigError("--route needs --mode l7: an L4 balancer never sees the path")
        proxy: L4Proxy | L7Proxy = L4Proxy(Balancer(config.backends, config.policy, rng))
        port = await proxy.start(config.host, config.port)
    else:
        proxy = L7Proxy(
            Router(config.backends, config.routes), config.policy, rng, hash_on=config.hash_on
        )
        port = await proxy.start(config.host, config.port, config.check_interval)
    return proxy, port


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def announce(kind: str, host: str, port: int) -> None:
    """The one line a parent process waits for (``listening HOST:PORT``)."""
    print(f"{kind} listening {host}:{port}", flush=True)
    sys.stdout.flush()


async def serve_proxy(config: ProxyConfig) -> None:
    proxy, port = await start_proxy(config)
    announce(f"{config.mode} proxy ({config.policy})", config.host, port)
    try:
        await _until_stopped()
    finally:
        await proxy.close()


async def serve_origin(name: str, host: str, port: int) -> None:
    origin = await Origin(name, host, port).start()
    announce(f"origin {name}", host, origin.port)
    try:
        await _until_stopped()
    finally:
        await origin.close()
