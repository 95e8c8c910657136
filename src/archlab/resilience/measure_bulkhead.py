"""Experiment ``resilience.bulkhead`` (codex 9.2): one slow dependency, shared pool vs bulkheads.

Everything runs for real on loopback: three dependency servers (raw asyncio TCP, each
answering one line per request; ``slow`` takes seconds, ``fast1`` and ``fast2`` milliseconds),
a gateway (an ASGI app served by uvicorn) whose endpoints ``/slow``, ``/fast1`` and ``/fast2``
each call their dependency over a fresh connection, and clients that keep each endpoint busy
with a timeout. The gateway runs twice on the same traffic: with one pool of ``pool`` slots
shared by every dependency (as a single thread pool would be), and with a bulkhead per
dependency of the same total size split between them. Each endpoint's success rate is counted.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from archlab.lab import (
    Column,
    Context,
    Evidence,
    Figure,
    Judgement,
    Outcome,
    Series,
    Table,
    Threshold,
    holds,
    nuanced,
    refuted,
)
from archlab.resilience.bulkhead import Bulkhead, BulkheadFull

ENDPOINTS = ("slow", "fast1", "fast2")

#: Healthy endpoints are unaffected when their success stays near 100%; 95% allows for the
#: scheduling noise of a loaded two-core machine.
HEALTHY = Threshold(95.0, "%", "healthy endpoints keep serving: 95% allows scheduler noise")
#: The claim is about a failure spreading: without bulkheads it must actually spread (the
#: healthy endpoints lose at least a fifth of their requests), or the regime was not reached.
SPREAD = Threshold(80.0, "%", "regime check: the shared pool must let the failure spread")


@dataclass(frozen=True)
class PoolResult:
    design: str
    success_pct: dict[str, float]
    requests: dict[str, int]


@dataclass(frozen=True)
class BulkheadMeasurement:
    results: list[PoolResult]

    def healthy(self, design: str) -> float:
        r = next(x for x in self.results if x.design == design)
        return min(r.success_pct["fast1"], r.success_pct["fast2"])


def judge_bulkhead(m: BulkheadMeasurement) -> Judgement:
    shared = Evidence(
        "healthy endpoints' success, one shared pool",
        round(m.healthy("shared"), 1),
        "%",
        at_most=SPREAD,
    )
    isolated = Evidence(
        "healthy endpoints' success, a bulkhead per dependency",
        round(m.healthy("bulkheads"), 1),
        "%",
        at_least=HEALTHY,
    )
    text = (
        f"with the slow dependency holding its calls, the healthy endpoints served "
        f"{m.healthy('shared'):.1f}% of requests on a shared pool and "
        f"{m.healthy('bulkheads'):.1f}% behind bulkheads"
    )
    if m.healthy("bulkheads") <= m.healthy("shared"):
        return refuted(text + ": the bulkheads did not protect them", shared, isolated)
    if not shared.met:
        return nuanced(text + ": the shared pool never let the failure spread", shared, isolated)
    if isolated.met:
        return holds(text, shared, isolated)
    return nuanced(
        text + ": bulkheads helped but the healthy endpoints still suffered", shared, isolated
    )


async def _dependency(delay: float) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readline()
            await asyncio.sleep(delay)
            writer.write(b"ok\n")
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def _call_dependency(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"req\n")
        await writer.drain()
        if await reader.readline() != b"ok\n":
            raise ConnectionError("the dependency did not answer")
    finally:
        writer.close()


def _gateway(ports: dict[str, int], pools: dict[str, Bulkhead], timeout: float) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        name = scope["path"].strip("/")
        status, body = 404, {"error": "no such endpoint"}
        if name in ports:
            try:
                call: Callable[[], Awaitable[None]] = lambda: _call_dependency(ports[name])  # noqa: E731
                await asyncio.wait_for(pools[name].call(call), timeout)
                status, body = 200, {"ok": name}
            except (BulkheadFull, TimeoutError, OSError) as exc:
                status, body = 503, {"error": type(exc).__name__}
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


async def _client(
    port: int, endpoint: str, until: float, timeout: float, tally: Counter[str]
) -> None:
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), timeout
            )
        except (OSError, TimeoutError):
            tally[f"{endpoint}:fail"] += 1
            await asyncio.sleep(0.01)
            continue
        try:
            writer.write(
                f"GET /{endpoint} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), timeout)
            ok = line.split()[1:2] == [b"200"]
            tally[f"{endpoint}:{'ok' if ok else 'fail'}"] += 1
        except (OSError, TimeoutError, IndexError):
            tally[f"{endpoint}:fail"] += 1
        finally:
            writer.close()
        await asyncio.sleep(0.005)


async def run_design(
    design: str,
    pool: int,
    clients: dict[str, int],
    seconds: float,
    slow_s: float,
    timeout: float,
) -> PoolResult:
    import uvicorn

    deps = {
        "slow": await _dependency(slow_s),
        "fast1": await _dependency(0.002),
        "fast2": await _dependency(0.002),
    }
    ports = {n: s.sockets[0].getsockname()[1] for n, s in deps.items()}
    if design == "shared":
        shared = Bulkhead("shared", pool, max_queue=4 * pool, queue_timeout=timeout)
        pools = dict.fromkeys(ENDPOINTS, shared)
    else:
        share = max(1, pool // len(ENDPOINTS))
        pools = {
            n: Bulkhead(n, share, max_queue=4 * share, queue_timeout=timeout) for n in ENDPOINTS
        }
    config = uvicorn.Config(
        _gateway(ports, pools, timeout),
        host="127.0.0.1",
        port=0,
        log_level="error",
        lifespan="off",
        backlog=2048,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    tally: Counter[str] = Counter()
    until = time.monotonic() + seconds
    await asyncio.gather(
        *[
            _client(port, endpoint, until, timeout + 0.5, tally)
            for endpoint, count in clients.items()
            for _ in range(count)
        ]
    )
    server.should_exit = True
    await serving
    for dep in deps.values():
        dep.close()
    success, requests = {}, {}
    for endpoint in ENDPOINTS:
        ok, fail = tally[f"{endpoint}:ok"], tally[f"{endpoint}:fail"]
        requests[endpoint] = ok + fail
        success[endpoint] = 100 * ok / max(1, ok + fail)
    return PoolResult(design, success, requests)


def measure(ctx: Context) -> Outcome[BulkheadMeasurement]:
    p = ctx.params
    clients = {
        "slow": int(p["slow_clients"]),
        "fast1": int(p["fast_clients"]),
        "fast2": int(p["fast_clients"]),
    }
    results = []
    with ctx.progress.task("gateway designs", 2) as task:
        for design in ("shared", "bulkheads"):
            results.append(
                asyncio.run(
                    run_design(
                        design,
                        int(p["pool"]),
                        clients,
                        float(p["seconds"]),
                        float(p["slow_s"]),
                        float(p["timeout_s"]),
                    )
                )
            )
            task.advance()
    measured = BulkheadMeasurement(results)
    table = Table(
        f"Gateway with {p['pool']} dependency slots; 'slow' answers after {p['slow_s']} s",
        [
            Column("design"),
            *[Column(f"/{e} success", "%") for e in ENDPOINTS],
            *[Column(f"/{e} requests") for e in ENDPOINTS],
        ],
        note="Shared: one pool for every dependency. Bulkheads: the same slots split evenly, "
        "one pool per dependency. The gateway gives up on a dependency after the timeout (503).",
    )
    for r in results:
        table.add(
            r.design, *[r.success_pct[e] for e in ENDPOINTS], *[r.requests[e] for e in ENDPOINTS]
        )
    figure = Figure(
        "Success per endpoint while one dependency is slow",
        y_label="% of requests served",
        series=[
            Series(
                r.design,
                [f"/{e}" for e in ENDPOINTS],
                [r.success_pct[e] for e in ENDPOINTS],
                style="bar",
            )
            for r in results
        ],
    )
    summary = (
        f"healthy endpoints: {measured.healthy('shared'):.0f}% served with a shared pool, "
        f"{measured.healthy('bulkheads'):.0f}% behind bulkheads"
    )
    return Outcome(measured, summary=summary, tables=[table], figures=[figure])
