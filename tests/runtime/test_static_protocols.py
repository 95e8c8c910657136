"""Multi-Paxos and Zab as real clusters: the same processes, client protocol, files and commands
as Raft; a killed leader is replaced and recovers from its files."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from archlab.consensus.client import Cas, Read, Write
from archlab.runtime.client import ClusterClient
from archlab.runtime.cluster import (
    cluster_status,
    kill_node,
    node_running,
    start_node,
    stop_cluster,
    wait_for_leader,
)
from tests.runtime.conftest import start_cluster


@pytest.mark.parametrize("protocol", ["paxos", "zab"])
def test_a_killed_leader_is_replaced_and_recovers_from_its_files(
    tmp_path: Path, protocol: str
) -> None:
    spec = start_cluster(tmp_path / protocol, protocol=protocol)
    try:

        async def run(op: Write | Read | Cas, first: int | None = None) -> object:
            async with ClusterClient(spec.addresses, timeout=10, first=first) as c:
                reply = await c.execute(op)
                assert reply.outcome == "ok", reply
                return reply.value

        old = asyncio.run(wait_for_leader(spec))
        asyncio.run(run(Write("before", 1)))
        kill_node(spec, old)
        assert not node_running(spec.node(old))
        new = asyncio.run(wait_for_leader(spec, 15))
        assert new != old
        assert asyncio.run(run(Read("before"))) == 1  # the acknowledged write survived
        asyncio.run(run(Cas("before", 1, 2)))
        start_node(spec, old)  # same data directory: recovers, then catches up

        async def caught_up() -> None:
            deadline = time.monotonic() + 15
            while True:
                rows = {r["node"]: r for r in await cluster_status(spec)}
                mine = rows[old]
                if mine.get("voter") is True and mine.get("applied") == rows[new].get("applied"):
                    return
                assert time.monotonic() < deadline, rows
                await asyncio.sleep(0.05)

        asyncio.run(caught_up())
        assert asyncio.run(run(Read("before"), first=old)) == 2
    finally:
        stop_cluster(spec)


def test_the_protocol_given_twice_differently_is_refused_in_one_line(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    result = run_cli(["cluster", "up", "raft", "--protocol", "zab", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "protocol given twice" in result.stderr and "Traceback" not in result.stderr
