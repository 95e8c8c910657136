"""A minimal OAuth 2.0 / OpenID Connect identity provider for the gateway's demo and tests (9.4).

It does what a resource server depends on and no more: an OIDC discovery document, a JWKS with
every key that may still have signed a live token, signing-key rotation, and two grants: client
credentials (RFC 6749 §4.4, service to service) and authorization code with PKCE (RFC 7636,
S256 only). Access tokens are RFC 9068 JWTs (``typ: at+jwt``) signed with RS256 by ``joserfc``.

Sans-IO: the clock and the randomness behind codes and token ids are injected (a served IdP
passes :class:`secrets.SystemRandom`); :mod:`archlab.security.idp_app` puts it on HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from archlab.randomness import RandomSource

SIGNING_ALG = "RS256"


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: ``error`` code, a description, and the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class Client:
    client_id: str
    secret: str | None  # None: a public client (authorization code + PKCE only)
    scopes: frozenset[str]
    redirect_uris: tuple[str, ...] = ()


@dataclass
class PendingCode:
    client_id: str
    redirect_uri: str
    challenge: str
    subject: str
    scopes: frozenset[str]
    audience: str
    expires_at: float


@dataclass
class IdentityProvider:
    """Issues access tokens for registered clients and publishes the keys that verify them."""

    issuer: str
    audience: str
    clock: Callable[[], float]
    rng: RandomSource
    token_lifetime_s: float = 300.0
    code_lifetime_s: float = 60.0
    clients: dict[str, Client] = field(default_factory=dict)
    keys: list[RSAKey] = field(default_factory=list)
    codes: dict[str, PendingCode] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.keys:
            self.rotate_key()

    # -- keys -------------------------------------------------------------------------------
    @property
    def signing_key(self) -> RSAKey:
        return self.keys[-1]

    def rotate_key(self) -> str:
        """Start signing with a fresh key; the old ones stay published until retired."""
        kid = f"k{len(self.keys) + 1}-{self.rng.getrandbits(32):08x}"
        self.keys.append(
            RSAKey.generate_key(2048, parameters={"kid": kid, "alg": SIGNING_ALG, "use": "sig"})
        )
        return kid

    def retire_keys(self, keep: int = 1) -> None:
        """Stop publishing all but the newest ``keep`` keys (their tokens stop verifying)."""
        self.keys = self.keys[-keep:]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) for k in self.keys]}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/jwks.json",
            "token_endpoint": f"{self.issuer}/token",
            "authorization_endpoint": f"{self.issuer}/authorize",
            "grant_types_supported": ["client_credentials", "authorization_code"],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "none"],
            "id_token_signing_alg_values_supported": [SIGNING_ALG],
            "subject_types_supported": ["public"],
        }

    # -- clients and tokens -----------------------------------------------------------------
    def register(self, client: Client) -> None:
        self.clients[client.client_id] = client

    def access_token(self, subject: str, client_id: str, scopes: frozenset[str]) -> str:
        now = int(self.clock())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "client_id": client_id,
            "scope": " ".join(sorted(scopes)),
            "iat": now,
            "exp": now + int(self.token_lifetime_s),
            "jti": f"{self.rng.getrandbits(64):016x}",
        }
        header = {"alg": SIGNING_ALG, "kid": self.signing_key.kid, "typ": "at+jwt"}
        return jwt.encode(header, claims, self.signing_key, algorithms=[SIGNING_ALG])

    def _response(self, subject: str, client_id: str, scopes: frozenset[str]) -> dict[str, Any]:
        return {
            "access_token": self.access_token(subject, client_id, scopes),
            "token_type": "Bearer",
            "expires_in": int(self.token_lifetime_s),
            "scope": " ".join(sorted(scopes)),
        }

    def _granted(self, client: Client, scope: str | None) -> frozenset[str]:
        asked = frozenset((scope or "").split()) or client.scopes
        if not asked <= client.scopes:
            extra = ", ".join(sorted(asked - client.scopes))
            raise OAuthError("invalid_scope", f"client may not ask for {extra}")
        return asked

    def client_credentials(self, client_id: str, secret: str, scope: str | None) -> dict[str, Any]:
        client = self.clients.get(client_id)
        if (
            client is None
            or client.secret is None
            or not hmac.compare_digest(client.secret.encode(), secret.encode())
        ):
            raise OAuthError("invalid_client", "unknown client or wrong secret", status=401)
        return self._response(client_id, client_id, self._granted(client, scope))

    def authorize(
        self,
        client_id: str,
        redirect_uri: str,
        code_challenge: str,
        method: str,
        scope: str | None,
        subject: str,
    ) -> str:
        """The user ``subject`` approved the request: a one-time code for the redirect."""
        client = self.clients.get(client_id)
        if client is None or redirect_uri not in client.redirect_uris:
            raise OAuthError("invalid_request", "unknown client or unregistered redirect_uri")
        if method != "S256" or not 43 <= len(code_challenge) <= 128:
            raise OAuthError("invalid_request", "PKCE with code_challenge_method=S256 is required")
        code = f"{self.rng.getrandbits(128):032x}"
        self.codes[code] = PendingCode(
            client_id,
            redirect_uri,
            code_challenge,
            subject,
            self._granted(client, scope),
            self.audience,
            self.clock() + self.code_lifetime_s,
        )
        return code

    def exchange_code(
        self, client_id: str, code: str, verifier: str, redirect_uri: str
    ) -> dict[str, Any]:
        pending = self.codes.pop(code, None)  # single use, whatever happens next
        if pending is None or pending.expires_at < self.clock():
            raise OAuthError("invalid_grant", "unknown, used or expired code")
        if pending.client_id != client_id or pending.redirect_uri != redirect_uri:
            raise OAuthError("invalid_grant", "code was issued to another client or redirect")
        if not hmac.compare_digest(pkce_challenge(verifier), pending.challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the challenge")
        return self._response(pending.subject, client_id, pending.scopes)


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 §4.2, S256: base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii", errors="replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
