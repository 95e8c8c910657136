"""The demo API that ``archlab limits serve`` puts behind the rate-limit middleware (9.3).

A plain ASGI application with the shape of a payments API: ``POST /charges`` (critical),
``GET /charges`` and ``GET /items`` (reads), ``POST /items`` (writes), ``GET /slow?ms=N`` (a
request that holds a worker for N ms, to fill the concurrency limiter) and ``GET /health``.
It does no real work beyond a short ``asyncio.sleep`` per request, so what a load test
measures is the limiter in front of it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs

from archlab.resilience.asgi import Receive, Scope, Send

ROUTES = {("POST", "/charges"), ("GET", "/charges"), ("GET", "/items"), ("POST", "/items")}


async def _reply(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:  # drain the request body
        message = await receive()
        more = bool(message.get("more_body"))
    method, path = scope["method"], scope["path"]
    if path == "/health":
        await _reply(send, 200, {"ok": True})
    elif path == "/slow":
        query = parse_qs(bytes(scope.get("query_string", b"")).decode())
        try:
            ms = min(10_000, max(0, int(query.get("ms", ["100"])[0])))
        except ValueError:
            await _reply(send, 400, {"error": "ms must be a whole number of milliseconds"})
            return
        await asyncio.sleep(ms / 1000)
        await _reply(send, 200, {"slept_ms": ms})
    elif (method, path) in ROUTES:
        await asyncio.sleep(0.002)
        await _reply(send, 200 if method == "GET" else 201, {"path": path, "method": method})
    else:
        await _reply(send, 404, {"error": f"no route {method} {path}"})
