"""The benchmark's peer: pysyncobj behind archlab's client protocol behaves like the same store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from archlab.consensus.client import Cas, Read, Write

pytest.importorskip("pysyncobj")


def test_the_pysyncobj_cluster_serves_the_same_operations(tmp_path: Path) -> None:
    from archlab.runtime.benchmarks import NODES, _start_pysyncobj
    from archlab.runtime.client import ClusterClient

    with _start_pysyncobj(tmp_path) as (addresses, leader):
        assert len(addresses) == NODES

        async def go() -> list[object]:
            out: list[object] = []
            for first in sorted(addresses):  # a follower redirects to the leader
                async with ClusterClient(addresses, first=first, timeout=10) as c:
                    key = f"p{first}"
                    out.append((await c.execute(Write(key, 1))).outcome)
                    out.append((await c.execute(Cas(key, 1, 2))).outcome)
                    out.append((await c.execute(Cas(key, 1, 3))).outcome)
                    out.append((await c.execute(Read(key))).value)
                    assert c.leader_guess == leader
            return out

        assert asyncio.run(go()) == ["ok", "ok", "fail", 2] * NODES
