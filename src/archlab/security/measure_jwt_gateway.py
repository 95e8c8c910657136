"""``security.jwt_gateway`` (codex 9.4): the gateway rejects every forged token, accepts valid ones.

The battery of :mod:`archlab.security.attacks` runs through the real ASGI gateway, IdP and JWKS
cache in-process; the measurement is the status every attack and every valid token got.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from archlab.lab import (
    Column,
    Context,
    Evidence,
    Judgement,
    Outcome,
    Table,
    Threshold,
    experiment,
    holds,
    nuanced,
    refuted,
)
from archlab.security.attacks import Case, GatewayLab, ValidatorFactory, run_battery
from archlab.security.tokens import AccessTokenValidator

#: RFC 8725 §3 lists these as attacks a JWT consumer must defeat: not one may get through.
ATTACKS_ACCEPTED = Threshold(0, "attacks", "RFC 8725 §3 and RFC 9068 §4: reject every one")
#: A resource server that refuses valid tokens is not secure, it is broken.
VALID_REFUSED = Threshold(0, "tokens", "RFC 9068 §4: a token passing every check is accepted")
#: RFC 6750 §3.1: bad token 401 invalid_token, valid token lacking scope 403 insufficient_scope.
WRONG_STATUS = Threshold(0, "attacks", "RFC 6750 §3.1: 401 for a bad token, 403 for scope")


@dataclass(frozen=True)
class JwtGatewayMeasurement:
    """The status each attack and each valid token got, and what the rules say it should be."""

    expected: dict[str, int]
    observed: dict[str, int]
    valid_observed: dict[str, int]
    jwks_refetched_for_unknown_kid: bool


def judge_jwt_gateway(m: JwtGatewayMeasurement) -> Judgement:
    accepted = [n for n, s in m.observed.items() if s < 400]
    wrong = [n for n, s in m.observed.items() if s >= 400 and s != m.expected[n]]
    refused = [n for n, s in m.valid_observed.items() if s != 200]
    through = Evidence("attacks accepted", len(accepted), "attacks", at_most=ATTACKS_ACCEPTED)
    blocked = Evidence("valid tokens refused", len(refused), "tokens", at_most=VALID_REFUSED)
    status = Evidence("attacks with the wrong status", len(wrong), "attacks", at_most=WRONG_STATUS)
    total = f"{len(m.observed)} attacks, {len(m.valid_observed)} valid tokens"
    if accepted or refused:
        parts = []
        if accepted:
            parts.append(f"accepted {', '.join(accepted)}")
        if refused:
            parts.append(f"refused valid {', '.join(refused)}")
        return refuted(f"{total}: the gateway {'; '.join(parts)}", through, blocked, status)
    if wrong or not m.jwks_refetched_for_unknown_kid:
        flaws = [f"{', '.join(wrong)} got the wrong status"] if wrong else []
        if not m.jwks_refetched_for_unknown_kid:
            flaws.append("an unknown kid did not make the key cache refetch")
        return nuanced(
            f"{total}: every attack rejected and every valid token accepted, but "
            f"{'; '.join(flaws)}",
            through,
            blocked,
            status,
        )
    return holds(
        f"{total}: every attack rejected with its RFC 6750 status, every valid token accepted",
        through,
        blocked,
        status,
    )


async def measure(
    factory: ValidatorFactory = AccessTokenValidator, leeway_s: float = 30.0
) -> tuple[JwtGatewayMeasurement, list[Case], list[Case]]:
    """Run the battery against a gateway whose validator ``factory`` makes."""
    lab = GatewayLab(validator_factory=factory, leeway_s=leeway_s)
    try:
        attack_cases, valid_cases = await run_battery(lab)
    finally:
        await lab.close()
    measured = JwtGatewayMeasurement(
        expected={c.name: c.expected for c in attack_cases},
        observed={c.name: c.status for c in attack_cases},
        valid_observed={c.name: c.status for c in valid_cases},
        jwks_refetched_for_unknown_kid=lab.jwks.fetches > lab.fetches_before_unknown_kid,
    )
    return measured, attack_cases, valid_cases


@experiment(
    id="security.jwt_gateway",
    section="9.4",
    title="JWT access tokens at a resource-server gateway",
    claim="""An API gateway acting as OAuth 2.0 resource server validates each JWT access
    token locally against the issuer's published keys (signature, issuer, audience, lifetime,
    scopes), so forged, altered, expired or misdirected tokens are refused at the edge while
    valid ones pass with the caller's identity.""",
    method="""A minimal OIDC identity provider (discovery, JWKS, client-credentials and
    authorization-code+PKCE grants, key rotation) and the Starlette gateway with its JWKS cache
    run in-process over ASGI. The battery sends each attack of RFC 8725's catalogue (alg none,
    HS256 keyed with the RSA public key, key-carrying headers, wrong typ/iss/aud, expired,
    not-yet-valid, tampered, unknown kid after a refetch, duplicate claims, crit, oversized,
    garbage, missing scope), then valid tokens from both grants, inside the leeway, and across a
    signing-key rotation; each status is recorded.""",
    judge=judge_jwt_gateway,
    rule="""refuted when any attack gets a non-error status or any valid token is refused
    (RFC 8725 §3, RFC 9068 §4: zero of either); nuanced when all are rejected but some with
    the wrong status (RFC 6750 §3.1: 401 invalid_token vs 403 insufficient_scope) or an
    unknown kid did not make the JWKS cache refetch (a rotated key would be refused until the
    cache expires); holds otherwise.""",
    profiles={"quick": {"leeway_s": 30}, "full": {"leeway_s": 30}},
    references=[
        "RFC 8725 (JWT best current practices) §2-3, RFC 9068 (JWT profile for OAuth 2.0 "
        "access tokens) §2 and §4, RFC 6750 §3.1 (docs/references.md §9.4).",
    ],
)
def jwt_gateway(ctx: Context) -> Outcome[JwtGatewayMeasurement]:
    measured, attack_cases, valid_cases = asyncio.run(
        measure(leeway_s=float(ctx.params["leeway_s"]))
    )
    table = Table(
        "The negative battery and the valid tokens",
        [Column("case"), Column("what"), Column("expected"), Column("observed"), Column("reason")],
    )
    for c in attack_cases + valid_cases:
        table.add(c.name, c.what, c.expected, c.status, c.reason or "accepted")
    rejected = sum(1 for c in attack_cases if c.status >= 400)
    accepted = sum(1 for c in valid_cases if c.status == 200)
    return Outcome(
        measured,
        summary=f"{rejected}/{len(attack_cases)} attacks rejected, "
        f"{accepted}/{len(valid_cases)} valid tokens accepted",
        tables=[table],
    )
