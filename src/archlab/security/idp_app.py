"""The identity provider on HTTP: an ASGI (Starlette) app over :class:`IdentityProvider` (9.4).

Endpoints: ``/.well-known/openid-configuration``, ``/jwks.json``, ``/authorize`` (the demo
approves every request for the user named by ``login_hint``, answering with the redirect that
carries the code), and ``/token`` (``client_credentials`` and ``authorization_code``). Errors are
RFC 6749 JSON bodies with their status; ``/rotate`` (POST) starts a new signing key.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from archlab.security.idp import IdentityProvider, OAuthError

NO_STORE = {"Cache-Control": "no-store"}


def idp_app(idp: IdentityProvider) -> Starlette:
    """The HTTP face of ``idp``."""

    async def discovery(request: Request) -> Response:
        return JSONResponse(idp.discovery())

    async def jwks(request: Request) -> Response:
        return JSONResponse(idp.jwks(), headers={"Cache-Control": "max-age=60"})

    async def authorize(request: Request) -> Response:
        q = request.query_params
        try:
            if q.get("response_type") != "code":
                raise OAuthError("unsupported_response_type", "only response_type=code")
            code = idp.authorize(
                q.get("client_id", ""),
                q.get("redirect_uri", ""),
                q.get("code_challenge", ""),
                q.get("code_challenge_method", ""),
                q.get("scope"),
                q.get("login_hint", "demo-user"),
            )
        except OAuthError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        params = {"code": code, **({"state": q["state"]} if "state" in q else {})}
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode(params)}", status_code=302)

    async def token(request: Request) -> Response:
        # RFC 6749 §4.1.3/§4.4.2: application/x-www-form-urlencoded, parsed without multipart
        body = (await request.body()).decode("utf-8", errors="replace")
        field = dict(parse_qsl(body, keep_blank_values=True))
        try:
            grant = field.get("grant_type")
            if grant == "client_credentials":
                answer = idp.client_credentials(
                    field.get("client_id", ""), field.get("client_secret", ""), field.get("scope")
                )
            elif grant == "authorization_code":
                answer = idp.exchange_code(
                    field.get("client_id", ""),
                    field.get("code", ""),
                    field.get("code_verifier", ""),
                    field.get("redirect_uri", ""),
                )
            else:
                raise OAuthError("unsupported_grant_type", f"grant_type {grant!r}")
        except OAuthError as exc:
            return JSONResponse(exc.body(), status_code=exc.status, headers=NO_STORE)
        return JSONResponse(answer, headers=NO_STORE)

    async def rotate(request: Request) -> Response:
        return JSONResponse({"kid": idp.rotate_key()})

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks.json", jwks),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
            Route("/rotate", rotate, methods=["POST"]),
        ]
    )
