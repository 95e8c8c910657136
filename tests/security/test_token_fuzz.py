"""Property-based fuzzing of the token path (9.4): no input makes the validator crash.

Whatever the bytes, validation ends in an :class:`AccessToken` or a :class:`TokenRejected`
with a status and a reason; never another exception.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from archlab.security.attacks import AUDIENCE, ISSUER, START, GatewayLab, compact
from archlab.security.idp import IdentityProvider
from archlab.security.jwks import parse_jwks
from archlab.security.tokens import (
    AccessTokenValidator,
    TokenRejected,
    ValidatorPolicy,
    parse_compact,
)

IDP = IdentityProvider(ISSUER, AUDIENCE, lambda: START, random.Random(1))
KEY = IDP.signing_key


class OneKey:
    async def key_for(self, kid: str) -> Any:
        return KEY if kid == KEY.kid else None


VALIDATOR = AccessTokenValidator(ValidatorPolicy(ISSUER, AUDIENCE), OneKey(), lambda: START)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
claim_names = st.sampled_from(
    ["iss", "aud", "sub", "exp", "iat", "nbf", "jti", "client_id", "scope"]
)
headers = st.fixed_dictionaries(
    {"alg": st.sampled_from(["RS256", "none", "HS256", "ES256", "PS256"]) | json_values},
    optional={
        "kid": st.just(KEY.kid) | json_values,
        "typ": st.sampled_from(["at+jwt", "JWT"]) | json_values,
        "crit": json_values,
        "jwk": json_values,
    },
)


def outcome(token: str) -> str:
    try:
        asyncio.run(VALIDATOR.validate(token))
    except TokenRejected as exc:
        assert exc.status in (401, 503) and exc.reason
        return "rejected"
    return "accepted"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_arbitrary_text_never_crashes_the_parser(text: str) -> None:
    try:
        parse_compact(text)
    except TokenRejected as exc:
        assert exc.reason


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.binary(max_size=80), min_size=1, max_size=4).map(
        lambda parts: ".".join(base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in parts)
    )
)
def test_arbitrary_segments_never_crash_the_validator(token: str) -> None:
    assert outcome(token) == "rejected"


@settings(max_examples=80, deadline=None)
@given(headers, st.dictionaries(claim_names, json_values, max_size=9))
def test_signed_tokens_with_arbitrary_claims_never_crash_the_validator(
    header: dict[str, Any], claims: dict[str, Any]
) -> None:
    outcome(compact(header, claims, KEY))


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_arbitrary_key_sets_never_crash_the_parser(document: Any) -> None:
    try:
        parse_jwks(json.dumps(document).encode())
    except TokenRejected as exc:
        assert exc.status == 503


GATEWAY_STATUSES = {400, 401}
LAB = GatewayLab()  # one in-process IdP and gateway (over ASGI, no sockets) for every example


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200).map(
        lambda t: f"Bearer {t}"
    )
    | st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
)
def test_arbitrary_authorization_headers_get_400_or_401_from_the_gateway(header: str) -> None:
    """Through the real ASGI gateway: a bad credential is the client's error, never a 500."""

    async def run() -> int:
        answer = await LAB.gateway.get("/accounts", headers={"Authorization": header})
        return answer.status_code

    assert asyncio.run(run()) in GATEWAY_STATUSES
