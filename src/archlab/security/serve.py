"""The identity provider and the gateway on real HTTP ports (uvicorn), for ``archlab security
serve`` and the end-to-end test (codex 9.4).

The gateway finds the IdP's keys as a resource server does: it reads the OIDC discovery
document at start, then fetches ``jwks_uri`` over HTTP through its :class:`JwksCache`.
Upstream is the echo service in-process, or any HTTP base URL.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx

from archlab.errors import UnavailableError
from archlab.security.attacks import DEMO_ROUTES, demo_clients
from archlab.security.gateway import echo_upstream, gateway_app
from archlab.security.idp import IdentityProvider
from archlab.security.idp_app import idp_app
from archlab.security.jwks import JwksCache
from archlab.security.tokens import AccessTokenValidator, ValidatorPolicy

AUDIENCE = "https://api.archlab.test"


class ServedGateway:
    """An IdP and a gateway listening on ``host``; ports 0 pick free ones."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, idp_port: int = 0, upstream: str | None = None
    ) -> None:
        self.host, self.port, self.idp_port, self.upstream_url = host, port, idp_port, upstream
        self.idp = IdentityProvider("", AUDIENCE, time.time, secrets.SystemRandom())
        for client in demo_clients():
            self.idp.register(client)
        self._servers: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._clients: list[httpx.AsyncClient] = []

    async def _serve(self, app: Any, port: int) -> int:
        import uvicorn

        config = uvicorn.Config(app, host=self.host, port=port, log_level="error", lifespan="off")
        server = uvicorn.Server(config)
        self._servers.append(server)
        self._tasks.append(asyncio.get_running_loop().create_task(server.serve()))
        while not server.started:
            if self._tasks[-1].done():
                raise UnavailableError(f"cannot listen on {self.host}:{port}")
            await asyncio.sleep(0.01)
        return int(server.servers[0].sockets[0].getsockname()[1])

    async def start(self) -> None:
        self.idp_port = await self._serve(idp_app(self.idp), self.idp_port)
        self.idp.issuer = f"http://{self.host}:{self.idp_port}"
        http = httpx.AsyncClient(timeout=5.0)
        self._clients.append(http)
        discovery = (await http.get(f"{self.idp.issuer}/.well-known/openid-configuration")).json()
        jwks_uri = str(discovery["jwks_uri"])

        async def fetch() -> bytes:
            answer = await http.get(jwks_uri)
            answer.raise_for_status()
            return answer.content

        self.jwks = JwksCache(fetch, time.time)
        validator = AccessTokenValidator(
            ValidatorPolicy(str(discovery["issuer"]), AUDIENCE), self.jwks, time.time
        )
        if self.upstream_url is None:
            upstream = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=echo_upstream()), base_url="http://upstream"
            )
        else:
            upstream = httpx.AsyncClient(base_url=self.upstream_url, timeout=10.0)
        self._clients.append(upstream)
        self.port = await self._serve(gateway_app(validator, DEMO_ROUTES, upstream), self.port)

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for client in self._clients:
            await client.aclose()
