"""``security.mtls_identity`` (codex 9.4): identity, not the network, decides who is served.

The three-service mesh of :mod:`archlab.security.zero_trust` runs on loopback; every caller
below is on the same host and port range, so only its SVID tells them apart.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

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
from archlab.security.mtls import CallFailed, MtlsConnection, TlsIdentity, call
from archlab.security.spiffe import TrustDomainAuthority
from archlab.security.zero_trust import Mesh

#: Zero trust (codex 9.4): "every request must be authenticated and authorized".
ADMITTED_WRONGLY = Threshold(0, "callers", "codex 9.4: every request authenticated and authorized")
#: Short-lived certificates are only workable if rotating them costs no request.
FAILED_DURING_ROTATION = Threshold(0, "requests", "codex 9.4: short-lived certificates rotate")
#: Rotation must have happened during the load for that phase to say anything about it.
ROTATIONS = Threshold(1, "rotations", "the regime: SVIDs rotated while the load ran")

EXPECTED = {
    "valid": "ok",
    "expired_svid": "handshake",
    "foreign_trust_domain": "handshake",
    "not_allowed_id": "forbidden",
    "impostor_server": "wrong_server",
    "revoked_ca": "handshake",
    "valid_after_revocation": "ok",
}


@dataclass(frozen=True)
class MtlsIdentityMeasurement:
    expected: dict[str, str]
    observed: dict[str, str]
    requests_during_rotation: int
    failed_during_rotation: int
    rotations: int
    long_lived_connections: int
    long_lived_survived: int
    #: seconds the long-lived connections kept serving after the SVID they were opened with
    #: expired (TLS checks a certificate in the handshake only); context, not judged
    served_past_own_expiry_s: float


def judge_mtls_identity(m: MtlsIdentityMeasurement) -> Judgement:
    wrong = [n for n, o in m.observed.items() if o != m.expected[n]]
    admitted = [n for n in wrong if m.observed[n] == "ok"]
    bad = Evidence(
        "callers admitted that should not be", len(admitted), "callers", at_most=ADMITTED_WRONGLY
    )
    lost = m.failed_during_rotation + (m.long_lived_connections - m.long_lived_survived)
    failed = Evidence(
        "requests or connections lost to rotation", lost, "requests", at_most=FAILED_DURING_ROTATION
    )
    rotated = Evidence("SVID rotations under load", m.rotations, "rotations", at_least=ROTATIONS)
    cases = f"{len(m.observed) - len(wrong)}/{len(m.observed)} identity cases as expected"
    load = (
        f"{m.requests_during_rotation} requests over {m.rotations} rotations, "
        f"{m.failed_during_rotation} failed, {m.long_lived_survived}/{m.long_lived_connections} "
        "long-lived connections kept"
    )
    if wrong:
        what = ", ".join(f"{n} got {m.observed[n]}" for n in wrong)
        return refuted(f"{cases}: {what}; {load}", bad, failed, rotated)
    if lost:
        return nuanced(f"{cases}, but rotation cost requests: {load}", bad, failed, rotated)
    if not rotated.met:
        return nuanced(
            f"{cases}; too few rotations to judge rotation: {load}", bad, failed, rotated
        )
    return holds(f"{cases}; {load}", bad, failed, rotated)


async def measure(
    workdir: Path, ttl_s: float, load_s: float, workers: int
) -> tuple[MtlsIdentityMeasurement, dict[str, str]]:
    mesh = Mesh(workdir, ttl_s=ttl_s)
    await mesh.start()
    observed: dict[str, str] = {}
    detail: dict[str, str] = {}

    async def attempt(case: str, identity: TlsIdentity, server: str, expect: str) -> None:
        try:
            await call(identity, mesh.port(server), mesh.id(expect), "/place")
            observed[case], detail[case] = "ok", "answered"
        except CallFailed as exc:
            observed[case], detail[case] = exc.kind, exc.detail

    try:
        frontend = mesh.identities["frontend"]
        bundle = mesh.authority.bundle_pem()
        await attempt("valid", frontend, "orders", "orders")
        expired = mesh.authority.issue(mesh.id("frontend"), 60, at=time.time() - 3600)
        await attempt("expired_svid", TlsIdentity(expired, bundle), "orders", "orders")
        evil = TrustDomainAuthority("evil.example", time.time)
        foreign = TlsIdentity(
            evil.issue(evil.id("shop", "frontend"), 60), bundle + evil.bundle_pem()
        )
        await attempt("foreign_trust_domain", foreign, "orders", "orders")
        await attempt("not_allowed_id", frontend, "payments", "payments")
        await attempt("impostor_server", frontend, "payments", "orders")
        load = await _rotation_under_load(mesh, load_s, workers)
        old = TlsIdentity(frontend.svid, frontend.bundle_pem)  # an SVID from the first CA
        assert mesh.rotator is not None
        mesh.authority.rotate_ca()
        await mesh.rotator.refresh()  # everyone trusts both roots and holds new-CA SVIDs
        mesh.authority.revoke_oldest_ca()
        await mesh.rotator.refresh()  # the bundle update: the old root is gone
        await attempt("revoked_ca", old, "orders", "orders")
        await attempt("valid_after_revocation", mesh.identities["frontend"], "orders", "orders")
    finally:
        await mesh.close()
    measured = MtlsIdentityMeasurement(
        EXPECTED,
        observed,
        load.requests,
        load.failed,
        load.rotations,
        load.long_lived,
        load.long_lived_kept,
        round(load.past_expiry_s, 2),
    )
    return measured, detail


@dataclass(frozen=True)
class LoadRun:
    requests: int
    failed: int
    rotations: int  # rotations that happened while the load ran
    long_lived: int
    long_lived_kept: int
    past_expiry_s: float


async def _rotation_under_load(mesh: Mesh, load_s: float, workers: int) -> LoadRun:
    """Callers on fresh connections and on long-lived ones while the SVIDs rotate."""
    frontend = mesh.identities["frontend"]
    deadline = time.monotonic() + load_s
    counts = {"requests": 0, "failed": 0}
    opened_with_expiry = frontend.svid.not_after  # the SVID the long-lived connections present
    long_lived = [
        await MtlsConnection.open(frontend, mesh.port("orders"), mesh.id("orders"))
        for _ in range(2)
    ]
    kept = [True] * len(long_lived)
    start_rotations = mesh.rotator.rotations if mesh.rotator else 0

    async def fresh() -> None:
        while time.monotonic() < deadline:
            try:
                await call(frontend, mesh.port("orders"), mesh.id("orders"), "/place")
            except CallFailed:
                counts["failed"] += 1
            counts["requests"] += 1

    async def reuse(i: int) -> None:
        while time.monotonic() < deadline:
            try:
                await long_lived[i].request("/place")
            except CallFailed:
                counts["failed"] += 1
                kept[i] = False
                return
            counts["requests"] += 1
            await asyncio.sleep(0.01)

    await asyncio.gather(
        *(fresh() for _ in range(workers)), *(reuse(i) for i in range(len(long_lived)))
    )
    for conn in long_lived:
        await conn.close()
    rotations = (mesh.rotator.rotations if mesh.rotator else 0) - start_rotations
    past = max(0.0, time.time() - opened_with_expiry) if all(kept) else 0.0
    return LoadRun(
        counts["requests"], counts["failed"], rotations, len(long_lived), sum(kept), past
    )


@experiment(
    id="security.mtls_identity",
    section="9.4",
    title="Zero trust: mTLS with short-lived SPIFFE identities",
    claim="""Zero trust assumes no implicit trust within the network: every request is
    authenticated and authorized by the caller's identity (mTLS with short-lived certificates,
    SPIFFE/SPIRE), not by where it comes from; the short-lived certificates rotate
    automatically.""",
    method="""Three services (frontend -> orders -> payments) on loopback talk mTLS (Python's
    ssl, TLS 1.3) with X.509-SVIDs a workload API hands out over a Unix socket after attesting
    the caller by SO_PEERCRED; orders admits only frontend, payments only orders. Callers with a
    valid SVID, an expired one, one from a foreign trust domain, a valid but not-allowed ID, a
    server impersonating another, and an SVID whose CA was revoked by a bundle update each make
    a request. Then callers on fresh and long-lived connections load orders while every SVID
    (minutes-long in production, seconds here) is rotated at half its lifetime.""",
    judge=judge_mtls_identity,
    rule="""refuted when any identity case ends otherwise than expected (a caller admitted that
    should not be, or a valid one refused); nuanced when rotation cost any request or
    long-lived connection, or no rotation happened under load (the regime not
    reached); holds otherwise (zero of each, codex 9.4).""",
    profiles={
        "quick": {"ttl_s": 3, "load_s": 3.5, "workers": 3},
        "full": {"ttl_s": 6, "load_s": 20, "workers": 6},
    },
    references=[
        "SPIFFE X.509-SVID: one URI SAN, not a CA, short-lived; SPIRE's default SVID TTL is 1 h "
        "(docs/references.md §9.4).",
    ],
)
def mtls_identity(ctx: Context) -> Outcome[MtlsIdentityMeasurement]:
    p = ctx.params
    measured, detail = asyncio.run(
        measure(ctx.scratch, float(p["ttl_s"]), float(p["load_s"]), int(p["workers"]))
    )
    table = Table(
        "Who gets served",
        [Column("case"), Column("expected"), Column("observed"), Column("detail")],
    )
    for case, outcome in measured.observed.items():
        table.add(case, measured.expected[case], outcome, detail[case][:120])
    load = Table(
        "Rotation under load",
        [
            Column("requests"),
            Column("failed"),
            Column("rotations"),
            Column("long-lived kept"),
            Column("served past own SVID's expiry", "s"),
        ],
    )
    load.add(
        measured.requests_during_rotation,
        measured.failed_during_rotation,
        measured.rotations,
        f"{measured.long_lived_survived}/{measured.long_lived_connections}",
        measured.served_past_own_expiry_s,
    )
    right = sum(1 for c, o in measured.observed.items() if o == measured.expected[c])
    return Outcome(
        measured,
        summary=f"{right}/{len(measured.observed)} identity cases as expected; "
        f"{measured.failed_during_rotation} of {measured.requests_during_rotation} requests "
        f"failed over {measured.rotations} rotations",
        tables=[table, load],
    )
