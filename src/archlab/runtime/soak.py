"""Clients against a real cluster while nodes are SIGKILLed and restarted, recorded as a history.

:func:`run_soak` is the kill soak of the slow test suite (and usable from a script): ``clients``
concurrent :class:`~archlab.runtime.client.ClusterClient` s run random reads, writes and
compare-and-sets on a few keys; each operation is recorded in the history format of
:mod:`archlab.check.history` with its wall-clock time — ``ok`` / ``fail`` as answered, ``info``
when the client gave up without a definite answer (:class:`~archlab.runtime.client.OutcomeUnknown`)
or the session was lost. Meanwhile a nemesis SIGKILLs a random node (the leader half of the time),
leaves it down for a while and starts it again on its data directory. The history is then
checked with :func:`~archlab.check.linearizability.check_linearizable` and the ``kv`` model.

With ``resp_clients``, unmodified ``redis-py`` clients (:mod:`redis.asyncio`) run GET, SET and
CAS on keys of their own through the nodes' RESP ports (:mod:`archlab.runtime.resp`), moving to
another node when theirs is killed, and go into the same history: a ``-TRYAGAIN`` or a broken
connection is ``info`` (the command may have applied), an answer is ``ok`` or ``fail``. Their
automatic resend is off: redis-py resends a command that timed out on a new connection, which
the store sees as a new command (a new session), so it could apply twice — a duplicate a
history shows as non-linearizable (a first soak with the default resend did).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    ConnectionError as RedisConnectionError,
    RedisError,
    ResponseError,
    TimeoutError as RedisTimeoutError,
)

from archlab.check.history import Recorder
from archlab.consensus.client import (
    Cas,
    KVOperation,
    Outcome,
    Read,
    Write,
    history_completion,
    history_invocation,
)
from archlab.runtime.client import ClusterClient, OutcomeUnknown
from archlab.runtime.cluster import ClusterSpec, cluster_status, kill_node, start_node


@dataclass
class SoakReport:
    recorder: Recorder
    kills: list[tuple[float, int, bool]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _random_op(rng: random.Random, keys: list[str]) -> KVOperation:
    key = rng.choice(keys)
    roll = rng.random()
    if roll < 0.4:
        return Read(key)
    if roll < 0.75:
        return Write(key, rng.randrange(5))
    return Cas(key, rng.randrange(5), rng.randrange(5))


async def _client(
    spec: ClusterSpec,
    process: int,
    rng: random.Random,
    keys: list[str],
    until: float,
    recorder: Recorder,
    counts: dict[str, int],
    op_timeout: float,
) -> None:
    client = ClusterClient(spec.addresses, timeout=op_timeout, first=1 + process % len(spec.nodes))
    try:
        while time.monotonic() < until:
            op = _random_op(rng, keys)
            f, key, value = history_invocation(op)
            recorder.invoke(process, f, value, key=key, time=time.time())
            try:
                reply = await client.execute(op)
            except OutcomeUnknown:
                recorder.info(process, f, value, key=key, time=time.time())
                counts["info"] = counts.get("info", 0) + 1
                continue
            status, result = history_completion(op, reply)
            recorder.complete(process, status, f, result, key=key, time=time.time())
            counts[status] = counts.get(status, 0) + 1
            if reply.error == "session-expired":
                client.session = None
            await asyncio.sleep(rng.uniform(0, 0.01))
    finally:
        await client.close()


def _count(counts: dict[str, int], status: str) -> None:
    counts[status] = counts.get(status, 0) + 1


async def _resp_client(
    spec: ClusterSpec,
    process: int,
    rng: random.Random,
    keys: list[str],
    until: float,
    recorder: Recorder,
    counts: dict[str, int],
    op_timeout: float,
) -> None:
    """A redis-py client through the RESP ports (see the module docstring)."""
    nodes = [n for n in spec.nodes if n.resp_port is not None]
    if not nodes:
        raise ValueError("resp_clients needs a cluster started with RESP ports")
    at = process % len(nodes)
    conn: aioredis.Redis | None = None
    try:
        while time.monotonic() < until:
            if conn is None:
                node = nodes[at]
                conn = aioredis.Redis(
                    host=node.host,
                    port=node.resp_port or 0,
                    socket_timeout=op_timeout + 1,
                    protocol=2,
                    # No automatic resend: a command resent on a new connection is a new
                    # command to the store (a new session), so it could apply twice.
                    retry=Retry(NoBackoff(), 0),
                )
            op = _as_text(_random_op(rng, keys))
            f, key, value = history_invocation(op)
            recorder.invoke(process, f, value, key=key, time=time.time())
            status: Outcome
            result: object
            try:
                status, result = await _resp_execute(conn, op)
            except ResponseError:
                status, result = "info", value  # TRYAGAIN: no definite answer
            except (RedisConnectionError, RedisTimeoutError, RedisError, OSError):
                recorder.info(process, f, value, key=key, time=time.time())
                _count(counts, "info")
                await conn.aclose()
                conn, at = None, (at + 1) % len(nodes)
                await asyncio.sleep(0.05)
                continue
            if status == "info":
                recorder.info(process, f, value, key=key, time=time.time())
            else:
                recorder.complete(process, status, f, result, key=key, time=time.time())
            _count(counts, status)
            await asyncio.sleep(rng.uniform(0, 0.01))
    finally:
        if conn is not None:
            await conn.aclose()


def _as_text(op: KVOperation) -> KVOperation:
    """The operation with string values (what a Redis client stores)."""
    if isinstance(op, Write):
        return Write(op.key, str(op.value))
    if isinstance(op, Cas):
        return Cas(op.key, str(op.expected), str(op.new))
    return op


async def _resp_execute(conn: aioredis.Redis, op: KVOperation) -> tuple[Outcome, object]:
    if isinstance(op, Read):
        raw = await conn.get(op.key)
        return "ok", raw.decode() if isinstance(raw, bytes) else raw
    if isinstance(op, Write):
        await conn.set(op.key, str(op.value))
        return "ok", op.value
    untyped: Any = conn
    swapped = await untyped.execute_command("CAS", op.key, str(op.expected), str(op.new))
    return ("ok" if swapped == 1 else "fail"), [op.expected, op.new]


async def _nemesis(
    spec: ClusterSpec,
    rng: random.Random,
    until: float,
    report: SoakReport,
    down: tuple[float, float],
) -> None:
    while time.monotonic() < until - 1:
        await asyncio.sleep(rng.uniform(0.3, 1.0))
        rows = await cluster_status(spec, timeout=0.3)
        leaders = [int(r["node"]) for r in rows if r.get("role") == "leader"]  # type: ignore[arg-type]
        kill_leader = bool(leaders) and rng.random() < 0.5
        victim = leaders[0] if kill_leader else rng.choice([n.id for n in spec.nodes])
        await asyncio.to_thread(kill_node, spec, victim)
        report.kills.append((time.time(), victim, kill_leader))
        await asyncio.sleep(rng.uniform(*down))
        await asyncio.to_thread(start_node, spec, victim)


async def run_soak(
    spec: ClusterSpec,
    *,
    seconds: float,
    clients: int = 5,
    keys: int = 3,
    seed: int = 0,
    op_timeout: float = 3.0,
    down: tuple[float, float] = (0.2, 1.5),
    resp_clients: int = 0,
) -> SoakReport:
    """Run the soak against the running cluster ``spec`` (see the module docstring)."""
    rng = random.Random(seed)
    report = SoakReport(Recorder())
    names = [f"k{i}" for i in range(keys)]
    until = time.monotonic() + seconds
    tasks = [
        _client(
            spec,
            p,
            random.Random(rng.random()),
            names,
            until,
            report.recorder,
            report.counts,
            op_timeout,
        )
        for p in range(clients)
    ]
    resp_keys = [f"r{i}" for i in range(keys)]
    tasks += [
        _resp_client(
            spec,
            clients + p,
            random.Random(rng.random()),
            resp_keys,
            until,
            report.recorder,
            report.counts,
            op_timeout,
        )
        for p in range(resp_clients)
    ]
    await asyncio.gather(_nemesis(spec, random.Random(rng.random()), until, report, down), *tasks)
    return report
