"""A real cluster of server processes on loopback, started once per module that asks for it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from archlab.runtime.cluster import (
    ClusterSpec,
    create_cluster,
    free_ports,
    stop_cluster,
    wait_for_leader,
)


def start_cluster(
    directory: Path,
    nodes: int = 3,
    durability: str = "fsync",
    protocol: str = "raft",
    resp: bool = False,
) -> ClusterSpec:
    ports = free_ports(2 * nodes if resp else nodes)
    spec = create_cluster(
        directory,
        protocol,
        nodes,
        ports=ports[:nodes],
        durability=durability,  # type: ignore[arg-type]
        resp_ports=ports[nodes:] if resp else None,
    )
    try:
        asyncio.run(wait_for_leader(spec, 20))
    except BaseException:
        stop_cluster(spec)
        raise
    return spec


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterSpec]:
    spec = start_cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield spec
    finally:
        stop_cluster(spec)
