"""Stripe's limiters in front of any ASGI application: a middleware (codex 9.3).

``RateLimitMiddleware(app, ...)`` wraps a Starlette, FastAPI or plain ASGI app. For each HTTP
request it decides, in Stripe's order:

1. the **load shedders** (fleet usage, worker utilization): a shed request gets ``503`` with
   ``Retry-After``, critical traffic last;
2. the **request-rate limiter** for the request's user (any of the five rules, on a memory,
   Redis or asyncio-Redis backend): over the limit is ``429`` with ``Retry-After`` and the
   ``RateLimit-*`` headers;
3. the **concurrent-requests limiter**: too many of the user's requests in flight is ``429``.

If the limiter's store fails (Redis down, a script error), the request goes through
(*fail open*) unless ``fail_open=False``, and the failure is logged and counted in
:attr:`RateLimitMiddleware.metrics`; a failing limiter must not take the API down with it.
With ``dark_launch=True`` nothing is refused: what would have been is logged and counted, so
a new limit can be watched on real traffic before it is enforced.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from archlab.resilience.backends import Backend
from archlab.resilience.limits import Decision, Limit
from archlab.resilience.shedding import (
    ConcurrencyLimiter,
    FleetUsageShedder,
    Priority,
    WorkerUtilizationShedder,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("archlab.resilience")


def header(scope: Scope, name: str) -> str | None:
    wanted = name.lower().encode()
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return None


def user_of(scope: Scope) -> str:
    """The ``X-User`` header, else the API key in ``Authorization``, else the client address."""
    user = header(scope, "x-user") or header(scope, "authorization")
    if user:
        return user
    client = scope.get("client")
    return str(client[0]) if client else "anonymous"


def priority_of(scope: Scope) -> Priority:
    """``X-Priority`` if valid; test traffic by ``X-Test``; else POST vs GET, payments critical."""
    given = (header(scope, "x-priority") or "").lower()
    if given in ("critical", "post", "get", "test"):
        return given  # type: ignore[return-value]
    if header(scope, "x-test"):
        return "test"
    if scope.get("method") == "POST":
        return "critical" if str(scope.get("path", "")).startswith("/charges") else "post"
    return "get"


class RateLimitMiddleware:
    """See the module docstring; every component is optional."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        backend: Backend | Any | None = None,
        limit: Limit | None = None,
        concurrency: ConcurrencyLimiter | None = None,
        fleet: FleetUsageShedder | None = None,
        utilization: WorkerUtilizationShedder | None = None,
        workers: int = 100,
        user: Callable[[Scope], str] = user_of,
        priority: Callable[[Scope], Priority] = priority_of,
        fail_open: bool = True,
        dark_launch: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.backend = backend
        self.limit = limit
        self.concurrency = concurrency
        self.fleet = fleet
        self.utilization = utilization
        self.workers = workers
        self.user = user
        self.priority = priority
        self.fail_open = fail_open
        self.dark_launch = dark_launch
        self.clock = clock
        self.in_flight = 0
        self.metrics: Counter[str] = Counter()
        self._ids = itertools.count()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        user, prio, now = self.user(scope), self.priority(scope), self.clock()
        if self.utilization is not None:
            self.utilization.observe(min(1.0, self.in_flight / self.workers), now)
        if self._shed(prio) and await self._refuse("shed", prio, user):
            await _respond(
                send, 503, {"error": "overloaded, retry later", "class": prio}, {"Retry-After": "1"}
            )
            return
        decision = await self._decide(user)
        if decision is not None and decision.limited and await self._refuse("limited", prio, user):
            await _respond(
                send,
                429,
                {"error": "rate limited", "retry_after": decision.retry_after},
                decision.headers(),
            )
            return
        request_id = f"{id(self)}-{next(self._ids)}"
        if (
            self.concurrency is not None
            and not self.concurrency.acquire(user, request_id, now)
            and await self._refuse("concurrency", prio, user)
        ):
            await _respond(
                send, 429, {"error": "too many concurrent requests"}, {"Retry-After": "1"}
            )
            return
        self.metrics["admitted"] += 1
        self.in_flight += 1
        extra = decision.headers() if decision is not None else {}
        extra.pop("Retry-After", None)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                message = dict(message)
                message["headers"] = [
                    *message.get("headers", []),
                    *[(k.lower().encode(), v.encode()) for k, v in extra.items()],
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            self.in_flight -= 1
            if self.concurrency is not None:
                self.concurrency.release(user, request_id)

    def _shed(self, prio: Priority) -> bool:
        if self.fleet is not None and not self.fleet.admits(prio, self.in_flight):
            return True
        return self.utilization is not None and not self.utilization.admits(prio)

    async def _refuse(self, why: str, prio: Priority, user: str) -> bool:
        """Count a refusal; in a dark launch, log it and let the request through."""
        if self.dark_launch:
            self.metrics[f"would_{why}"] += 1
            log.info("dark launch: would refuse (%s) %s request of %s", why, prio, user)
            return False
        self.metrics[why] += 1
        return True

    async def _decide(self, user: str) -> Decision | None:
        if self.backend is None or self.limit is None:
            return None
        try:
            adecide = getattr(self.backend, "adecide", None)
            if adecide is not None:
                result: Decision = await adecide(user, self.limit)
                return result
            decided: Decision = self.backend.decide(user, self.limit)
            return decided
        except Exception as exc:  # the store failed: fail open (or closed), never crash
            self.metrics["store_errors"] += 1
            if not self.fail_open:
                log.error("rate limiter store failed, failing closed: %s", exc)
                return Decision(False, self.limit.capacity, 0, 1.0, 1.0)
            self.metrics["fail_open"] += 1
            log.warning("rate limiter store failed, failing open: %s: %s", type(exc).__name__, exc)
            return None


async def _respond(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
