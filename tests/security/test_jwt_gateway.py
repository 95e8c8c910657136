"""The resource-server gateway (9.4): the negative battery, broken validators, the judge."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from archlab.errors import ConfigError
from archlab.security.attacks import AUDIENCE, ISSUER, GatewayLab, b64, compact
from archlab.security.idp import OAuthError
from archlab.security.jwks import JwksCache
from archlab.security.measure_jwt_gateway import (
    JwtGatewayMeasurement,
    judge_jwt_gateway,
    measure,
)
from archlab.security.tokens import (
    AccessToken,
    AccessTokenValidator,
    TokenRejected,
    ValidatorPolicy,
)


class AcceptsAlgNone(AccessTokenValidator):
    """Broken: trusts an unsigned token whose header says alg none."""

    async def validate(self, token: str) -> AccessToken:
        from archlab.security.tokens import parse_compact

        parsed = parse_compact(token)
        if parsed.header.get("alg") == "none":
            return self.access_token(parsed.payload, "none")
        return await super().validate(token)


class IgnoresAudience(AccessTokenValidator):
    """Broken: any audience will do."""

    def check_claims(self, claims: dict[str, Any]) -> None:
        super().check_claims({**claims, "aud": self.policy.audience})


class ForbidsEverything(AccessTokenValidator):
    """Broken in a milder way: rejects the right tokens but answers 403 for a bad token."""

    async def validate(self, token: str) -> AccessToken:
        try:
            return await super().validate(token)
        except TokenRejected as exc:
            raise TokenRejected(exc.reason, status=403) from exc


@pytest.fixture(scope="module")
def battery() -> JwtGatewayMeasurement:
    return asyncio.run(measure())[0]


def test_every_attack_gets_its_status_and_every_valid_token_passes(
    battery: JwtGatewayMeasurement,
) -> None:
    assert battery.observed == battery.expected
    assert set(battery.valid_observed.values()) == {200}
    assert battery.jwks_refetched_for_unknown_kid
    assert judge_jwt_gateway(battery).verdict == "holds"


def test_each_attack_carries_a_reason() -> None:
    _, attacks, _ = asyncio.run(measure())
    assert all(c.reason for c in attacks), [c.name for c in attacks if not c.reason]
    reasons = {c.name: c.reason for c in attacks}
    assert "none" in reasons["alg_none"] and "jku" in reasons["embedded_jku"]
    assert "duplicate" in reasons["duplicate_claims"] and "scope" in reasons["missing_scope"]


@pytest.mark.parametrize(
    ("broken", "verdict", "slipped"),
    [(AcceptsAlgNone, "refuted", "alg_none"), (IgnoresAudience, "refuted", "wrong_audience")],
)
def test_broken_validators_are_caught(
    broken: type[AccessTokenValidator], verdict: str, slipped: str
) -> None:
    measured = asyncio.run(measure(broken))[0]
    assert measured.observed[slipped] == 200
    judgement = judge_jwt_gateway(measured)
    assert judgement.verdict == verdict and slipped in judgement.reason


def test_a_validator_with_wrong_statuses_is_nuanced() -> None:
    measured = asyncio.run(measure(ForbidsEverything))[0]
    assert judge_jwt_gateway(measured).verdict == "nuanced"


def test_the_judge_reaches_each_verdict(battery: JwtGatewayMeasurement) -> None:
    ok = battery
    assert judge_jwt_gateway(ok).verdict == "holds"
    stale = JwtGatewayMeasurement(ok.expected, ok.observed, ok.valid_observed, False)
    assert judge_jwt_gateway(stale).verdict == "nuanced"
    refused = {**ok.valid_observed, "after_rotation": 401}
    judgement = judge_jwt_gateway(JwtGatewayMeasurement(ok.expected, ok.observed, refused, True))
    assert judgement.verdict == "refuted"
    assert all(e.threshold is not None and e.threshold.source for e in judgement.evidence)


def test_hs256_is_refused_by_the_key_pin_even_when_allowed() -> None:
    """Second line of defence: a policy that lists HS256 still cannot key it with an RSA key."""

    async def run() -> str:
        lab = GatewayLab()
        with pytest.raises(ConfigError, match="asymmetric"):
            ValidatorPolicy(ISSUER, AUDIENCE, algorithms=("RS256", "HS256"))
        lab.validator.policy.algorithms = ("RS256", "HS256")  # misconfigured after the check
        import hashlib
        import hmac

        key = lab.idp.signing_key
        head = b64(json.dumps(lab.header(alg="HS256")).encode())
        body = b64(json.dumps(lab.claims()).encode())
        mac = hmac.new(key.as_pem(private=False), f"{head}.{body}".encode(), hashlib.sha256)
        with pytest.raises(TokenRejected) as caught:
            await lab.validator.validate(f"{head}.{body}.{b64(mac.digest())}")
        await lab.close()
        return caught.value.reason

    assert "pinned to RS256" in asyncio.run(run())


def test_the_leeway_is_bounded() -> None:
    with pytest.raises(ConfigError, match="leeway"):
        ValidatorPolicy(ISSUER, AUDIENCE, leeway_s=3600)


def test_identity_goes_upstream_and_spoofed_identity_headers_do_not() -> None:
    async def run() -> dict[str, Any]:
        lab = GatewayLab()
        token = await lab.client_credentials("reporting")
        answer = await lab.gateway.get(
            "/accounts/42",
            headers={"Authorization": f"Bearer {token}", "X-Archlab-Subject": "admin"},
        )
        await lab.close()
        assert answer.status_code == 200
        return dict(answer.json()["identity"])

    identity = asyncio.run(run())
    assert identity == {"subject": "reporting", "client": "reporting", "scopes": "accounts:read"}


def test_missing_and_malformed_authorization() -> None:
    async def run() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        lab = GatewayLab()
        none = await lab.gateway.get("/accounts")
        basic = await lab.gateway.get("/accounts", headers={"Authorization": "Basic Zm9vOmJhcg=="})
        unknown = await lab.gateway.get("/nowhere", headers={"Authorization": "Bearer x"})
        await lab.close()
        return none, basic, unknown

    none, basic, unknown = asyncio.run(run())
    assert none.status_code == 401 and none.headers["www-authenticate"].startswith("Bearer")
    assert basic.status_code == 400 and "invalid_request" in basic.headers["www-authenticate"]
    assert unknown.status_code == 404


@pytest.mark.parametrize("document", [b"<html>oops</html>", b'{"keys": 3}', b"\xff\xfe", b"[]"])
def test_an_unreadable_key_set_answers_503_with_a_reason(document: bytes) -> None:
    async def run() -> httpx.Response:
        lab = GatewayLab()
        token = await lab.client_credentials("billing")

        async def broken() -> bytes:
            return document

        lab.jwks.fetch = broken
        answer = await lab.call(token)
        await lab.close()
        return answer.response

    answer = asyncio.run(run())
    assert answer.status_code == 503
    assert "key set unreadable" in answer.json()["reason"]


def test_unknown_kids_cannot_make_the_cache_hammer_the_issuer() -> None:
    async def run() -> int:
        lab = GatewayLab()
        token = await lab.client_credentials("billing")
        assert (await lab.call(token)).status == 200
        for i in range(50):
            forged = compact(lab.header(kid=f"made-up-{i}"), lab.claims(), lab.idp.signing_key)
            assert (await lab.call(forged)).status == 401
            lab.clock.now += 1.0
        await lab.close()
        return lab.jwks.fetches

    # 50 s of unknown kids with a 10 s refresh limit: the first fetch and at most 5 refetches
    assert asyncio.run(run()) <= 6


def test_jwks_cache_keeps_keys_when_a_refresh_fails() -> None:
    calls = {"n": 0}
    now = {"t": 0.0}

    async def fetch() -> bytes:
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError("connection refused")
        return json.dumps(GatewayLab().idp.jwks()).encode()

    cache = JwksCache(fetch, lambda: now["t"], ttl_s=100, min_refresh_s=10)

    async def run() -> None:
        (kid,) = [k for k in (await _first_kid(cache))]
        now["t"] = 150
        with pytest.raises(TokenRejected) as caught:
            await cache.key_for(kid)
        assert caught.value.status == 503
        assert cache.keys, "the keys already held are kept"

    asyncio.run(run())


async def _first_kid(cache: JwksCache) -> list[str]:
    await cache.key_for("nothing")
    return list(cache.keys)


def test_idp_rejects_bad_grants() -> None:
    async def run() -> list[tuple[int, str]]:
        lab = GatewayLab()
        out = []
        wrong_secret = {
            "grant_type": "client_credentials",
            "client_id": "billing",
            "client_secret": "x",
        }
        too_much = {
            "grant_type": "client_credentials",
            "client_id": "reporting",
            "client_secret": "reporting-secret",
            "scope": "transfers:write",
        }
        reused = {
            "grant_type": "authorization_code",
            "client_id": "webapp",
            "code": "0" * 32,
            "code_verifier": "v" * 43,
            "redirect_uri": "https://app.test/cb",
        }
        for form in (wrong_secret, too_much, reused, {"grant_type": "password"}):
            answer = await lab.idp_http.post("/token", data=form)
            out.append((answer.status_code, answer.json()["error"]))
        await lab.close()
        return out

    assert asyncio.run(run()) == [
        (401, "invalid_client"),
        (400, "invalid_scope"),
        (400, "invalid_grant"),
        (400, "unsupported_grant_type"),
    ]


def test_pkce_verifier_must_match_and_codes_are_single_use() -> None:
    lab = GatewayLab()
    from archlab.security.idp import pkce_challenge

    verifier = "a" * 50
    code = lab.idp.authorize(
        "webapp", "https://app.test/cb", pkce_challenge(verifier), "S256", None, "alice"
    )
    with pytest.raises(OAuthError, match="code_verifier"):
        lab.idp.exchange_code("webapp", code, "b" * 50, "https://app.test/cb")
    with pytest.raises(OAuthError, match="used"):  # the failed attempt consumed the code
        lab.idp.exchange_code("webapp", code, verifier, "https://app.test/cb")
    with pytest.raises(OAuthError, match="S256"):
        lab.idp.authorize("webapp", "https://app.test/cb", "x" * 43, "plain", None, "alice")
    asyncio.run(lab.close())


def test_discovery_document_points_at_the_endpoints() -> None:
    async def run() -> dict[str, Any]:
        lab = GatewayLab()
        answer = await lab.idp_http.get("/.well-known/openid-configuration")
        await lab.close()
        return dict(answer.json())

    doc = asyncio.run(run())
    assert doc["issuer"] == ISSUER and doc["jwks_uri"] == f"{ISSUER}/jwks.json"
    assert doc["code_challenge_methods_supported"] == ["S256"]


def test_over_real_http_the_gateway_discovers_the_idp_and_checks_tokens() -> None:
    from archlab.security.serve import ServedGateway

    async def run() -> tuple[int, dict[str, Any], int, int, int]:
        served = ServedGateway()
        await served.start()
        try:
            async with httpx.AsyncClient(timeout=5.0) as http:
                form = {
                    "grant_type": "client_credentials",
                    "client_id": "reporting",
                    "client_secret": "reporting-secret",
                }
                token = (await http.post(f"{served.idp.issuer}/token", data=form)).json()[
                    "access_token"
                ]
                auth = {"Authorization": f"Bearer {token}"}
                ok = await http.get(f"{served.gateway_url}/accounts", headers=auth)
                scope = await http.post(f"{served.gateway_url}/transfers", headers=auth)
                served.idp.rotate_key()
                served.idp.retire_keys(keep=1)  # the key that signed `token` is withdrawn
                cached = await http.get(f"{served.gateway_url}/accounts", headers=auth)
                await served.jwks.refresh()  # what the TTL's expiry does
                stale = await http.get(f"{served.gateway_url}/accounts", headers=auth)
                codes = (scope.status_code, cached.status_code, stale.status_code)
                return ok.status_code, ok.json(), *codes
        finally:
            await served.stop()

    ok, body, scope, cached, stale = asyncio.run(run())
    assert ok == 200 and body["identity"]["subject"] == "reporting"
    assert scope == 403
    # a withdrawn key is honoured until the cache refreshes (the price of caching: up to its
    # TTL, since only unknown kids force a refetch); after the refresh the token is refused
    assert cached == 200 and stale == 401


def test_a_burst_after_rotation_costs_the_issuer_one_fetch() -> None:
    async def run() -> tuple[list[int], int]:
        lab = GatewayLab()
        assert (await lab.call(await lab.client_credentials("billing"))).status == 200
        lab.idp.rotate_key()
        lab.clock.now += 20
        token = await lab.client_credentials("billing")
        before = lab.jwks.fetches
        answers = await asyncio.gather(*(lab.call(token) for _ in range(8)))
        await lab.close()
        return [a.status for a in answers], lab.jwks.fetches - before

    statuses, fetches = asyncio.run(run())
    assert statuses == [200] * 8
    assert fetches == 1
