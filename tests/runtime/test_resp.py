"""The cluster speaks RESP: unmodified redis-py and redis-cli against a linearizable store."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from archlab.runtime.cluster import (
    ClusterSpec,
    create_cluster,
    free_ports,
    stop_cluster,
    wait_for_leader,
)


@pytest.fixture(scope="module")
def resp_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterSpec]:
    ports = free_ports(6)
    spec = create_cluster(
        tmp_path_factory.mktemp("resp"), "raft", 3, ports=ports[:3], resp_ports=ports[3:]
    )
    try:
        asyncio.run(wait_for_leader(spec, 20))
        yield spec
    finally:
        stop_cluster(spec)


def _redis(spec: ClusterSpec, node: int) -> redis.Redis:
    port = spec.node(node).resp_port
    assert port is not None
    return redis.Redis(
        host="127.0.0.1", port=port, socket_timeout=10, decode_responses=True, protocol=2
    )


def test_redis_py_commands_through_any_node(resp_cluster: ClusterSpec) -> None:
    one, three = _redis(resp_cluster, 1), _redis(resp_cluster, 3)
    try:
        assert one.ping() is True
        assert one.set("a", "1") is True
        assert three.get("a") == "1"  # written through node 1, read through node 3
        assert three.set("a", "2", nx=True) is None  # exists: NX does nothing
        assert three.set("b", "x", nx=True) is True
        assert one.set("c", "y", xx=True) is None  # absent: XX does nothing
        assert one.set("b", "z", xx=True) is True
        assert one.execute_command("CAS", "a", "1", "5") == 1
        assert one.execute_command("CAS", "a", "1", "6") == 0
        assert three.get("a") == "5"
        assert one.exists("a", "b", "nope") == 2
        assert three.delete("a", "nope") == 1
        assert one.get("a") is None
        info = one.info()
        assert info["role"] in ("master", "slave") and "archlab_commit" in info
        with pytest.raises(redis.ResponseError, match="unknown command"):
            one.execute_command("FLUSHALL")
        with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
            one.execute_command("GET")
        assert one.get("b") == "z"  # the connection keeps serving after errors
    finally:
        one.close()
        three.close()


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli (redis-tools) missing")
def test_redis_cli_sets_and_gets(resp_cluster: ClusterSpec) -> None:
    port = str(resp_cluster.node(2).resp_port)

    def cli(*args: str) -> str:
        done = subprocess.run(
            ["redis-cli", "-p", port, *args], capture_output=True, text=True, timeout=20
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert cli("PING") == "PONG"
    assert cli("SET", "cli", "hello world") == "OK"
    assert cli("GET", "cli") == "hello world"
    assert cli("CAS", "cli", "hello world", "bye") == "1"  # raw output: not a tty
    assert cli("--no-raw", "GET", "cli") == '"bye"'
    assert cli("--no-raw", "EXISTS", "cli") == "(integer) 1"
    assert "ERR" in cli("NOPE")


def test_a_malformed_request_gets_a_protocol_error(resp_cluster: ClusterSpec) -> None:
    port = resp_cluster.node(1).resp_port
    assert port is not None

    async def go() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"*1\r\n$x\r\n")
        await writer.drain()
        answer = await reader.read()
        writer.close()
        return answer

    assert asyncio.run(go()).startswith(b"-ERR Protocol error")


def test_resp_ports_in_cluster_json(resp_cluster: ClusterSpec) -> None:
    text = (Path(resp_cluster.directory) / "cluster.json").read_text(encoding="utf-8")
    assert '"resp_port"' in text
