"""An API gateway acting as OAuth 2.0 resource server, as an ASGI (Starlette) app (codex 9.4).

Each request is matched to a route (path prefix and methods) that names the scopes it needs.
The bearer token (RFC 6750 §2.1) is validated by :class:`AccessTokenValidator`; the answers
follow RFC 6750 §3.1: no or unusable credentials 401 ``invalid_token`` (with the reason in
``error_description``), a malformed ``Authorization`` header 400 ``invalid_request``, a valid
token without the route's scopes 403 ``insufficient_scope``, keys that cannot be had 503. An
accepted request goes upstream with the caller's identity in ``X-Archlab-Subject``,
``X-Archlab-Client`` and ``X-Archlab-Scopes``; the same headers coming from the caller are
dropped first, so nobody can claim an identity by sending them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from archlab.security.tokens import AccessToken, AccessTokenValidator, TokenRejected

IDENTITY_PREFIX = "x-archlab-"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "authorization"}
_BEARER = re.compile(r"^Bearer ([A-Za-z0-9._~+/-]+=*)$")


@dataclass(frozen=True)
class Route:
    """Requests under ``prefix`` with one of ``methods`` need every scope in ``scopes``."""

    prefix: str
    methods: tuple[str, ...]
    scopes: frozenset[str]


def _quoted(text: str) -> str:
    return "".join(c for c in text if c.isprintable() and c not in '"\\')[:200]


def bearer_error(status: int, error: str, reason: str, scope: str = "") -> Response:
    challenge = f'Bearer realm="archlab", error="{error}", error_description="{_quoted(reason)}"'
    if scope:
        challenge += f', scope="{scope}"'
    return JSONResponse(
        {"error": error, "reason": reason},
        status_code=status,
        headers={"WWW-Authenticate": challenge},
    )


def identity_headers(token: AccessToken) -> dict[str, str]:
    return {
        f"{IDENTITY_PREFIX}subject": token.subject,
        f"{IDENTITY_PREFIX}client": token.client_id,
        f"{IDENTITY_PREFIX}scopes": " ".join(sorted(token.scopes)),
    }


def gateway_app(
    validator: AccessTokenValidator, routes: list[Route], upstream: httpx.AsyncClient
) -> Starlette:
    """The gateway in front of ``upstream``; the longest matching prefix decides the scopes."""
    ordered = sorted(routes, key=lambda r: len(r.prefix), reverse=True)

    async def authorize(request: Request) -> Response:
        route = next(
            (
                r
                for r in ordered
                if request.url.path.startswith(r.prefix) and request.method in r.methods
            ),
            None,
        )
        if route is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        header = request.headers.get("authorization")
        if header is None:
            return Response(status_code=401, headers={"WWW-Authenticate": 'Bearer realm="archlab"'})
        match = _BEARER.fullmatch(header)
        if match is None:
            return bearer_error(400, "invalid_request", "Authorization is not 'Bearer <token>'")
        try:
            token = await validator.validate(match.group(1))
        except TokenRejected as exc:
            error = "invalid_token" if exc.status == 401 else "temporarily_unavailable"
            return bearer_error(exc.status, error, exc.reason)
        missing = route.scopes - token.scopes
        if missing:
            needed = " ".join(sorted(route.scopes))
            reason = f"token lacks scope {', '.join(sorted(missing))}"
            return bearer_error(403, "insufficient_scope", reason, scope=needed)
        return await forward(request, token)

    async def forward(request: Request, token: AccessToken) -> Response:
        headers = {
            k: v
            for k, v in request.headers.items()
            if k not in _HOP_BY_HOP and not k.startswith(IDENTITY_PREFIX)
        }
        headers.update(identity_headers(token))
        try:
            answer = await upstream.request(
                request.method,
                request.url.path,
                params=str(request.query_params),
                headers=headers,
                content=await request.body(),
            )
        except httpx.HTTPError as exc:
            return JSONResponse(
                {"error": "bad_gateway", "reason": type(exc).__name__}, status_code=502
            )
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
        kept.pop("content-length", None)
        kept.pop("content-encoding", None)
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(routes=[StarletteRoute("/{path:path}", authorize, methods=methods)])


def echo_upstream() -> Starlette:
    """An upstream service that answers with the identity the gateway passed it."""

    async def echo(request: Request) -> Response:
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "identity": {
                    k.removeprefix(IDENTITY_PREFIX): v
                    for k, v in request.headers.items()
                    if k.startswith(IDENTITY_PREFIX)
                },
            }
        )

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[StarletteRoute("/{path:path}", echo, methods=methods)])
