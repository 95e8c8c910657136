"""A resource server's cache of the issuer's JSON Web Key Set (codex 9.4, RFC 7517).

Keys are fetched once and kept for ``ttl_s``. A token whose ``kid`` is not in the cache makes
the cache refetch the set (the issuer may have rotated its signing key), but at most once per
``min_refresh_s``: a flood of tokens with made-up key ids cannot turn the gateway into an
amplifier against the issuer. Each key keeps the ``alg`` it is published with, which the
validator pins. A set that cannot be read makes validation fail with 503 (the gateway cannot
judge any token), never with a traceback.

The fetch is an injected coroutine returning the document's bytes and the clock a callable;
concurrent requests that find the cache due share one fetch (an :class:`asyncio.Lock`), so a
burst of tokens signed with a freshly rotated key costs the issuer one request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from archlab.security.tokens import TokenRejected, strict_json_object

Fetch = Callable[[], Awaitable[bytes]]
PublicKey = RSAKey | ECKey


class KeySetUnreadable(TokenRejected):
    """The issuer's key set could not be fetched or parsed (HTTP 503 at the gateway)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"issuer key set unreadable: {reason}", status=503)


def parse_jwks(document: bytes) -> dict[str, PublicKey]:
    """The signing keys of a JWKS document by ``kid``; private members are ignored."""
    try:
        body = strict_json_object(document, "JWKS")
    except TokenRejected as exc:
        raise KeySetUnreadable(exc.reason) from exc
    entries = body.get("keys")
    if not isinstance(entries, list):
        raise KeySetUnreadable("no 'keys' array")
    keys: dict[str, PublicKey] = {}
    for entry in entries:
        key = _public_key(entry)
        if key is not None and key.kid:
            keys[key.kid] = key
    return keys


def _public_key(entry: Any) -> PublicKey | None:
    if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
        return None
    public = {k: v for k, v in entry.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
    try:
        if public.get("kty") == "RSA":
            return RSAKey.import_key(public)
        if public.get("kty") == "EC":
            return ECKey.import_key(public)
    except (JoseError, ValueError, TypeError, KeyError):
        return None
    return None


class JwksCache:
    """The issuer's public keys, refreshed on expiry or on an unknown ``kid`` (rate-limited)."""

    def __init__(
        self,
        fetch: Fetch,
        clock: Callable[[], float],
        ttl_s: float = 300.0,
        min_refresh_s: float = 10.0,
    ) -> None:
        self.fetch = fetch
        self.clock = clock
        self.ttl_s = ttl_s
        self.min_refresh_s = min_refresh_s
        self.keys: dict[str, PublicKey] = {}
        self.fetched_at: float | None = None
        self.fetches = 0
        self.error: str | None = None
        self._refreshing = asyncio.Lock()

    async def refresh(self) -> None:
        """Fetch the set now; on failure keep the keys already held and remember why."""
        self.fetched_at = self.clock()
        self.fetches += 1
        try:
            self.keys = parse_jwks(await self.fetch())
            self.error = None
        except KeySetUnreadable as exc:
            self.error = exc.reason
            raise
        except Exception as exc:  # the fetch is I/O: any failure means no fresh keys
            self.error = f"issuer key set unreadable: {type(exc).__name__}: {exc}"
            raise KeySetUnreadable(f"{type(exc).__name__}: {exc}") from exc

    def _due(self, kid: str) -> bool:
        now = self.clock()
        return (
            self.fetched_at is None
            or now - self.fetched_at >= self.ttl_s
            or (kid not in self.keys and now - self.fetched_at >= self.min_refresh_s)
        )

    async def key_for(self, kid: str) -> PublicKey | None:
        if self._due(kid):
            async with self._refreshing:  # one fetch at a time; the others wait and re-check
                if self._due(kid):
                    await self.refresh()
        if kid not in self.keys and self.error is not None:
            raise TokenRejected(self.error, status=503)
        return self.keys.get(kid)
