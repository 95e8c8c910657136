"""A real 3-node cluster on loopback: it elects, serves put/get/cas, survives a leader kill."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from archlab.consensus.client import Cas, Read, Write
from archlab.runtime.client import ClusterClient
from archlab.runtime.cluster import (
    ClusterSpec,
    cluster_status,
    kill_node,
    node_running,
    start_node,
    wait_for_leader,
)


def _leaders(spec: ClusterSpec) -> list[int]:
    rows = asyncio.run(cluster_status(spec))
    return [int(r["node"]) for r in rows if r.get("role") == "leader"]  # type: ignore[arg-type]


def test_the_cluster_elects_one_leader_that_everybody_follows(cluster: ClusterSpec) -> None:
    leader = asyncio.run(wait_for_leader(cluster))
    rows = asyncio.run(cluster_status(cluster))
    assert [r["state"] for r in rows] == ["up", "up", "up"]
    assert {r["leader"] for r in rows} == {leader}
    assert _leaders(cluster) == [leader]


def test_put_get_and_cas_through_any_node(cluster: ClusterSpec) -> None:
    async def go() -> list[object]:
        results = []
        for first in (1, 2, 3):  # starting at a follower is redirected to the leader
            async with ClusterClient(cluster.addresses, first=first) as c:
                key = f"k{first}"
                results.append((await c.execute(Read(key))).value)
                results.append((await c.execute(Write(key, first))).outcome)
                results.append((await c.execute(Cas(key, first, "two"))).outcome)
                failed = await c.execute(Cas(key, first, "three"))
                results.append((failed.outcome, failed.value))
                results.append((await c.execute(Read(key))).value)
        return results

    assert asyncio.run(go()) == [None, "ok", "ok", ("fail", "two"), "two"] * 3


def test_a_killed_leader_is_replaced_and_recovers_from_its_files(cluster: ClusterSpec) -> None:
    async def write(key: str, value: int) -> None:
        async with ClusterClient(cluster.addresses, timeout=10) as c:
            assert (await c.execute(Write(key, value))).outcome == "ok"

    async def read(key: str, first: int | None = None) -> object:
        async with ClusterClient(cluster.addresses, timeout=10, first=first) as c:
            return (await c.execute(Read(key))).value

    old = asyncio.run(wait_for_leader(cluster))
    asyncio.run(write("before", 1))
    kill_node(cluster, old)
    assert not node_running(cluster.node(old))
    started = time.monotonic()
    new = asyncio.run(wait_for_leader(cluster, 15))
    assert new != old
    assert asyncio.run(read("before")) == 1  # the acknowledged write survived
    asyncio.run(write("after", 2))
    failover = time.monotonic() - started
    assert failover < 15

    start_node(cluster, old)  # same data directory: recovers, then catches up

    async def caught_up() -> dict[str, object]:
        deadline = time.monotonic() + 15
        while True:
            rows = {r["node"]: r for r in await cluster_status(cluster)}
            mine, theirs = rows[old], rows[new]
            if mine.get("applied") is not None and mine.get("applied") == theirs.get("applied"):
                return mine
            assert time.monotonic() < deadline, (mine, theirs)
            await asyncio.sleep(0.05)

    row = asyncio.run(caught_up())
    assert row["leader"] == new
    assert asyncio.run(read("after")) == 2


def test_concurrent_writes_share_fsyncs(cluster: ClusterSpec) -> None:
    """Group commit: many writes in flight cost far fewer fsyncs than writes."""
    from archlab.runtime.loadgen import pipelined

    leader = asyncio.run(wait_for_leader(cluster))

    def fsyncs() -> int:
        rows = {r["node"]: r for r in asyncio.run(cluster_status(cluster))}
        return int(rows[leader]["fsyncs"])  # type: ignore[arg-type]

    before = fsyncs()
    result = asyncio.run(
        pipelined(
            cluster.addresses[leader],
            connections=4,
            depth=8,
            seconds=1.0,
            warmup=0.0,
            value_bytes=10,
        )
    )
    spent = fsyncs() - before
    assert result.errors == 0
    assert result.commits > 100
    assert spent < result.commits / 2, (spent, result.commits)


def test_a_node_whose_data_is_wiped_rejoins_in_recovery_and_is_readmitted(
    cluster: ClusterSpec,
) -> None:
    """Its data directory deleted, a node that ran before starts recovering (no vote, no
    quorum), is demoted to learner, catches up and is promoted back."""
    import shutil

    async def write(key: str, value: int) -> None:
        async with ClusterClient(cluster.addresses, timeout=10) as c:
            assert (await c.execute(Write(key, value))).outcome == "ok"

    leader = asyncio.run(wait_for_leader(cluster))
    victim = next(n.id for n in cluster.nodes if n.id != leader)
    asyncio.run(write("wiped", 7))
    kill_node(cluster, victim)
    shutil.rmtree(cluster.node(victim).data_dir)
    start_node(cluster, victim)

    async def readmitted() -> dict[str, object]:
        deadline = time.monotonic() + 20
        while True:
            rows = {r["node"]: r for r in await cluster_status(cluster)}
            mine = rows[victim]
            if mine.get("recovering") is False and mine.get("voters") == "1,2,3":
                return mine
            assert time.monotonic() < deadline, rows
            await asyncio.sleep(0.05)

    asyncio.run(readmitted())
    log = Path(cluster.node(victim).log_file).read_text(encoding="utf-8")
    assert "re-admitted as a voter after losing its disk" in log
    asyncio.run(write("after-wipe", 8))
