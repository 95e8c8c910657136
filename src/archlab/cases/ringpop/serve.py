"""A Ringpop cluster on loopback for ``archlab case ringpop serve`` (codex 10.5)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from archlab.cases.ringpop.node import RingpopNode
from archlab.cases.ringpop.swim import SwimConfig


async def start_cluster(size: int, config: SwimConfig, seed: int = 0) -> list[RingpopNode]:
    """``size`` members, the first one the seed every other joins through."""
    nodes = [RingpopNode(config, seed=seed * 1000 + i) for i in range(size)]
    await nodes[0].start()
    for node in nodes[1:]:
        await node.start([nodes[0].me])
    return nodes


async def converged(nodes: list[RingpopNode], timeout: float) -> bool:
    """Wait until every running node has the same ring; False on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if len({n.ring.checksum for n in nodes}) == 1:
            return True
        await asyncio.sleep(0.02)
    return False


async def run_cluster(
    size: int, duration: float, period: float, crash_after: float, say: Callable[[str], None]
) -> None:
    config = SwimConfig(period=period, ping_timeout=period / 2, suspicion_periods=5)
    nodes = await start_cluster(size, config)
    running = list(nodes)
    loop = asyncio.get_running_loop()
    start = loop.time()
    crashed = False
    try:
        say(f"started {size} members: {', '.join(n.me for n in nodes)}")
        while loop.time() - start < duration:
            await asyncio.sleep(1.0)
            if crash_after > 0 and not crashed and loop.time() - start >= crash_after:
                victim = running.pop()
                await victim.stop()
                crashed = True
                say(f"stopped {victim.me} without a goodbye")
            for node in running:
                swim = node._core()
                view = {m: u.status for m, u in sorted(swim.members.items())}
                summary = " ".join(f"{m.rsplit(':', 1)[1]}={s[0]}" for m, s in view.items())
                say(f"{node.me} ring {node.ring.checksum:08x}: {summary}")
            for key in ("trip-1", "trip-2", "trip-3"):
                try:
                    answer = await running[0].handle_or_forward(key)
                except Exception as exc:  # the demo keeps running to show recovery
                    answer = f"failed: {exc}"
                say(f"  {key}: {answer}")
    finally:
        for node in running:
            await node.stop()
