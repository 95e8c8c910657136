"""Access-token validation at a resource server, per RFC 8725 and RFC 9068 (codex 9.4).

The validator parses a compact JWS strictly before any signature check: each segment must be
canonical base64url, header and payload must be JSON objects without duplicate members, and the
token must be under a size bound. Then, in order:

* ``alg`` must be on the allow-list (never ``none``, never an HMAC algorithm) and must equal the
  ``alg`` pinned on the key that ``kid`` names, with the key type the algorithm needs: a public
  RSA key can never serve as an HMAC secret (RFC 8725 §2.1, §3.1).
* a key carried in the header (``jwk``, ``jku``, ``x5u``, ``x5c``) is refused outright: keys come
  only from the issuer's JWKS (RFC 8725 §3.10 spirit; RFC 7515 §4.1.2-4.1.6 are attacker input).
* ``crit`` names extensions this validator must understand; it understands none, so any ``crit``
  is refused (RFC 7515 §4.1.11).
* ``typ`` must be ``at+jwt`` (RFC 9068 §2.1), which stops an ID token being replayed as an
  access token (RFC 8725 §3.11).
* the signature is verified by ``joserfc`` with exactly the pinned algorithm.
* ``iss`` and ``aud`` must match; ``exp``, ``iat`` are required and ``nbf`` honoured, each with a
  bounded leeway; RFC 9068's required claims (``sub``, ``client_id``, ``jti``) must be present.

Every failure raises :class:`TokenRejected` with the HTTP status (401, or 503 when the keys
themselves cannot be had) and a one-line reason; nothing else escapes for any input.
Sans-IO: the clock is injected and keys come through an injected :class:`KeySource`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from archlab.errors import ConfigError

#: Algorithms a resource server accepts, with the key type each needs (RFC 7518 §3.1).
ALGORITHM_KEY_TYPES: dict[str, str] = {
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "ES256": "EC",
    "ES384": "EC",
}
#: Header parameters that would let the token choose its own verification key.
KEY_CARRYING_HEADERS = ("jwk", "jku", "x5u", "x5c")
#: RFC 9068 §2.1: ``typ`` is ``at+jwt`` (the media type ``application/at+jwt``, prefix optional).
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")
#: RFC 9068 §2.2: claims every JWT access token carries.
REQUIRED_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")
#: Clock skew tolerated on exp/nbf/iat: RFC 7519 §4.1.4 allows "a few minutes" at most.
MAX_LEEWAY_S = 300.0
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]*$")


class TokenRejected(Exception):
    """The token is refused: ``status`` is the HTTP answer, ``reason`` says why in one line."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class KeySource(Protocol):
    """Where the validator finds the issuer's public keys (a JWKS cache)."""

    async def key_for(self, kid: str) -> RSAKey | ECKey | None:
        """The key with id ``kid``, refreshing the set once if it is unknown; None if absent."""
        ...


@dataclass(frozen=True)
class AccessToken:
    """A validated access token: who, for which client, with which scopes."""

    subject: str
    client_id: str
    scopes: frozenset[str]
    claims: dict[str, Any] = field(hash=False)
    kid: str


@dataclass
class ValidatorPolicy:
    """What this resource server expects of a token."""

    issuer: str
    audience: str
    leeway_s: float = 30.0
    max_token_bytes: int = 8192
    max_lifetime_s: float = 24 * 3600.0
    algorithms: tuple[str, ...] = tuple(ALGORITHM_KEY_TYPES)

    def __post_init__(self) -> None:
        if not 0 <= self.leeway_s <= MAX_LEEWAY_S:
            raise ConfigError(f"leeway {self.leeway_s} s: give 0 to {MAX_LEEWAY_S:.0f} s")
        unknown = set(self.algorithms) - set(ALGORITHM_KEY_TYPES)
        if unknown:
            raise ConfigError(f"algorithms {sorted(unknown)}: only asymmetric JWS algorithms")


def _b64(segment: str, what: str) -> bytes:
    if not _SEGMENT.fullmatch(segment):
        raise TokenRejected(f"{what} is not base64url")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenRejected(f"{what} is not base64url") from exc
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != segment:
        raise TokenRejected(f"{what} is not canonical base64url")
    return raw


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise TokenRejected(f"duplicate member {key!r}")
        out[key] = value
    return out


def strict_json_object(raw: bytes, what: str) -> dict[str, Any]:
    """``raw`` as a JSON object; duplicate members, non-UTF-8 and non-objects are refused."""
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except TokenRejected as exc:
        raise TokenRejected(f"{what}: {exc.reason}") from exc
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise TokenRejected(f"{what} is not JSON") from exc
    if not isinstance(value, dict):
        raise TokenRejected(f"{what} is not a JSON object")
    return value


@dataclass(frozen=True)
class ParsedToken:
    header: dict[str, Any]
    payload: dict[str, Any]
    text: str


def parse_compact(token: str, max_bytes: int = 8192) -> ParsedToken:
    """Split and decode a compact JWS without trusting any of it (no signature check)."""
    if len(token) > max_bytes:
        raise TokenRejected(f"token of {len(token)} bytes is over the {max_bytes}-byte limit")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenRejected(f"a compact JWS has 3 segments, this token has {len(parts)}")
    header = strict_json_object(_b64(parts[0], "header"), "header")
    payload = strict_json_object(_b64(parts[1], "payload"), "payload")
    _b64(parts[2], "signature")
    return ParsedToken(header, payload, token)


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenRejected(f"claim {name!r} is not a number")
    return float(value)


class AccessTokenValidator:
    """Validates bearer access tokens for one issuer and audience."""

    def __init__(self, policy: ValidatorPolicy, keys: KeySource, clock: Callable[[], float]):
        self.policy = policy
        self.keys = keys
        self.clock = clock

    async def validate(self, token: str) -> AccessToken:
        parsed = parse_compact(token, self.policy.max_token_bytes)
        alg, kid = self.check_header(parsed.header)
        key = await self.keys.key_for(kid)
        if key is None:
            raise TokenRejected(f"unknown key id {kid!r} (not in the issuer's key set)")
        self.check_key(key, alg)
        self.verify_signature(parsed.text, key, alg)
        self.check_claims(parsed.payload)
        return self.access_token(parsed.payload, kid)

    def check_header(self, header: dict[str, Any]) -> tuple[str, str]:
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise TokenRejected("header has no 'alg'")
        if alg not in self.policy.algorithms:
            raise TokenRejected(f"algorithm {alg!r} is not allowed")
        carried = [h for h in KEY_CARRYING_HEADERS if h in header]
        if carried:
            raise TokenRejected(f"header carries its own key ({', '.join(carried)})")
        if "crit" in header:
            raise TokenRejected(f"critical header extensions not understood: {header['crit']!r}")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise TokenRejected(f"typ {typ!r} is not 'at+jwt'")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRejected("header has no 'kid'")
        return alg, kid

    def check_key(self, key: RSAKey | ECKey, alg: str) -> None:
        pinned = key.get("alg")
        if pinned is not None and pinned != alg:
            raise TokenRejected(f"key {key.kid!r} is pinned to {pinned}, token says {alg}")
        if key.key_type != ALGORITHM_KEY_TYPES.get(alg):
            raise TokenRejected(f"key {key.kid!r} is {key.key_type}, {alg} needs another type")

    def verify_signature(self, token: str, key: RSAKey | ECKey, alg: str) -> None:
        try:
            jws.deserialize_compact(token, key, algorithms=[alg])
        except (JoseError, ValueError, TypeError) as exc:
            raise TokenRejected("signature does not verify") from exc

    def check_claims(self, claims: dict[str, Any]) -> None:
        missing = [c for c in REQUIRED_CLAIMS if c not in claims]
        if missing:
            raise TokenRejected(f"missing claims: {', '.join(missing)}")
        if claims["iss"] != self.policy.issuer:
            raise TokenRejected(f"issuer {claims['iss']!r} is not {self.policy.issuer!r}")
        aud = claims["aud"]
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or self.policy.audience not in audiences:
            raise TokenRejected(f"audience {aud!r} does not include {self.policy.audience!r}")
        now, leeway = self.clock(), self.policy.leeway_s
        exp, iat, nbf = _number(claims, "exp"), _number(claims, "iat"), _number(claims, "nbf")
        assert exp is not None and iat is not None  # required above
        if now > exp + leeway:
            raise TokenRejected(f"expired {now - exp:.0f} s ago")
        if nbf is not None and now + leeway < nbf:
            raise TokenRejected(f"not valid for another {nbf - now:.0f} s")
        if now + leeway < iat:
            raise TokenRejected("issued in the future")
        if exp - iat > self.policy.max_lifetime_s:
            raise TokenRejected(f"lifetime {exp - iat:.0f} s is over the policy's bound")
        for name in ("sub", "client_id", "jti"):
            if not isinstance(claims[name], str):
                raise TokenRejected(f"claim {name!r} is not a string")
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise TokenRejected("claim 'scope' is not a space-separated string")

    @staticmethod
    def access_token(claims: dict[str, Any], kid: str) -> AccessToken:
        scopes = frozenset(str(claims.get("scope", "")).split())
        return AccessToken(str(claims["sub"]), str(claims["client_id"]), scopes, claims, kid)
