"""The rate-limit middleware in front of real ASGI apps, in process and as a served process."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from archlab.resilience.asgi import RateLimitMiddleware, priority_of
from archlab.resilience.backends import AsyncRedisBackend, MemoryBackend
from archlab.resilience.demo import app as demo_app
from archlab.resilience.limits import Limit
from archlab.resilience.loadgen import run_load
from archlab.resilience.redisproc import RedisServer
from archlab.resilience.shedding import ConcurrencyLimiter, FleetUsageShedder


async def _hello(request: Any) -> JSONResponse:
    return JSONResponse({"hello": request.headers.get("x-user")})


STARLETTE = Starlette(routes=[Route("/hello", _hello), Route("/charges", _hello, methods=["POST"])])


def _call(
    app: Any, path: str = "/hello", method: str = "GET", **headers: str
) -> tuple[int, dict[str, str], Any]:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(),
        "query_string": b"", "headers": raw, "client": ("127.0.0.1", 5000),
        "server": ("test", 80), "scheme": "http", "http_version": "1.1", "root_path": "",
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    hdrs = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], hdrs, json.loads(body)


def test_a_starlette_app_gets_429s_with_retry_after_past_the_limit() -> None:
    clock = [1000.0]
    app = RateLimitMiddleware(STARLETTE, backend=MemoryBackend(), clock=lambda: clock[0],
                              limit=Limit("token_bucket", rate=1, period=1.0, burst=3))  # fmt: skip
    statuses = [_call(app, x_user="alice")[0] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    status, headers, body = _call(app, x_user="alice")
    assert status == 429 and headers["retry-after"] and headers["ratelimit-remaining"] == "0"
    assert body["error"] == "rate limited"
    assert _call(app, x_user="bob")[0] == 200  # limits are per user
    ok = _call(app, x_user="carol")
    assert ok[1]["ratelimit-limit"] == "3"  # admitted responses carry the RateLimit headers


def test_a_dark_launch_refuses_nothing_and_counts_what_it_would_have() -> None:
    app = RateLimitMiddleware(STARLETTE, backend=MemoryBackend(), dark_launch=True,
                              limit=Limit("fixed_window", rate=2, period=60.0))  # fmt: skip
    assert [_call(app, x_user="a")[0] for _ in range(5)] == [200] * 5
    assert app.metrics["would_limited"] == 3 and app.metrics["admitted"] == 5


def test_an_unreachable_redis_fails_open_with_a_metric_and_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import redis.asyncio

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    backend = AsyncRedisBackend(redis.asyncio.Redis(port=dead_port, socket_connect_timeout=0.2))
    app = RateLimitMiddleware(STARLETTE, backend=backend, limit=Limit("gcra", 1, 1.0))
    with caplog.at_level("WARNING", logger="archlab.resilience"):
        assert _call(app, x_user="a")[0] == 200
    assert app.metrics["fail_open"] == 1 and "failing open" in caplog.text
    closed = RateLimitMiddleware(STARLETTE, backend=backend, limit=Limit("gcra", 1, 1.0),
                                 fail_open=False)  # fmt: skip
    assert _call(closed, x_user="a")[0] == 429


def test_the_async_redis_backend_limits_across_middleware_instances(
    redis_server: RedisServer,
) -> None:
    import redis.asyncio

    limit = Limit("sliding_log", rate=3, period=60.0)

    def fresh() -> RateLimitMiddleware:  # two servers of a fleet, one Redis
        client = redis.asyncio.Redis(port=redis_server.port)
        return RateLimitMiddleware(STARLETTE, backend=AsyncRedisBackend(client, prefix="fleet:"),
                                   limit=limit)  # fmt: skip

    statuses = [_call(fresh(), x_user="shared")[0] for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_the_fleet_shedder_keeps_the_reserved_capacity_for_payments() -> None:
    app = RateLimitMiddleware(demo_app, fleet=FleetUsageShedder(capacity=10, reserved=0.2))
    app.in_flight = 8  # as if eight requests were running
    assert _call(app, "/items")[0] == 503
    assert _call(app, "/charges", method="POST")[0] == 201
    app.in_flight = 10
    assert _call(app, "/charges", method="POST")[0] == 503


def test_the_concurrency_limiter_releases_a_slot_when_the_request_ends() -> None:
    limiter = ConcurrencyLimiter(1, stale_after=60.0)
    app = RateLimitMiddleware(demo_app, concurrency=limiter)
    assert [_call(app, "/items", x_user="u")[0] for _ in range(3)] == [200, 200, 200]
    assert limiter.in_flight == {}


@pytest.mark.parametrize(
    ("method", "path", "headers", "expected"),
    [
        ("POST", "/charges", {}, "critical"),
        ("POST", "/items", {}, "post"),
        ("GET", "/items", {}, "get"),
        ("GET", "/items", {"x-test": "1"}, "test"),
        ("GET", "/items", {"x-priority": "critical"}, "critical"),
    ],
)
def test_requests_are_classed_as_stripe_does(method: str, path: str, headers: dict[str, str],
                                             expected: str) -> None:  # fmt: skip
    scope = {"method": method, "path": path,
             "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}  # fmt: skip
    assert priority_of(scope) == expected


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def served_api() -> Iterator[int]:
    port = _free_port()
    cmd = [sys.executable, "-m", "archlab", "limits", "serve", "--port", str(port),
           "--rate", "5", "--burst", "5", "--concurrency", "0"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(
                f"the server did not start: {proc.stderr.read() if proc.stderr else ''}"
            )
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_served_api_limits_a_load_of_real_connections(served_api: int) -> None:
    mix = {"get": 1.0, "critical": 1.0}
    result = asyncio.run(
        run_load("127.0.0.1", served_api, users=4, rate=200.0, seconds=1.5, mix=mix)
    )
    statuses = {status for _, status in result.counts}
    assert {200, 201, 429} <= statuses, result.counts
    limited = sum(n for (_, s), n in result.counts.items() if s == 429)
    assert result.retry_after_on_429 == limited and not result.errors
