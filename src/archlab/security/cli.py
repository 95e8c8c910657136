"""``archlab zero-trust`` and ``archlab security``: the identity mesh and the token checks (9.4)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import click

from archlab.errors import InputFormatError


@click.group("zero-trust")
def zero_trust() -> None:
    """Service identity with SPIFFE-style SVIDs and mTLS between services (codex 9.4).

    \b
    Examples:
      archlab zero-trust demo --seconds 10 --ttl 4
      archlab zero-trust issue --name orders --out ./svid
      archlab zero-trust verify ./svid/svid.pem --bundle ./svid/bundle.pem
    """


@zero_trust.command("demo")
@click.option(
    "--seconds",
    type=click.FloatRange(1, 600),
    default=8.0,
    show_default=True,
    help="How long the services keep calling each other.",
)
@click.option(
    "--ttl",
    type=click.FloatRange(2, 3600),
    default=4.0,
    show_default=True,
    help="SVID lifetime in seconds (rotated at half).",
)
@click.option("--one-process", is_flag=True, help="Run the three services in this process.")
def demo(seconds: float, ttl: float, one_process: bool) -> None:
    """Three services (frontend -> orders -> payments) calling each other over mTLS.

    By default each service is its own process: this command runs the workload API on a Unix
    socket, starts the services and registers each child's pid, so the agent attests each by
    the kernel's peer credentials and hands it its SVID. The SVIDs rotate at half their
    lifetime while the calls go on; the demo also shows the call the policy forbids
    (frontend -> payments).
    """
    if not one_process:
        from archlab.security.zero_trust_processes import run_demo

        with tempfile.TemporaryDirectory(prefix="archlab-zt-") as tmp:
            final = asyncio.run(run_demo(Path(tmp), seconds, ttl, click.echo))
        click.echo(
            f"{final.get('answered', 0)} calls answered, {final.get('failed', 0)} failed, "
            f"{final.get('rotations', 0)} rotations in frontend, {final['issued']} SVIDs issued"
        )
        return
    from archlab.security.mtls import CallFailed, call
    from archlab.security.zero_trust import POLICY, Mesh

    async def run(workdir: Path) -> None:
        mesh = Mesh(workdir, ttl_s=ttl)
        await mesh.start()
        try:
            click.echo(
                f"trust domain {mesh.authority.trust_domain}; workload API {mesh.socket_path}"
            )
            for server, callers in POLICY.items():
                click.echo(
                    f"  {server} on 127.0.0.1:{mesh.port(server)} admits {', '.join(callers)}"
                )
            frontend = mesh.identities["frontend"]
            try:
                await call(frontend, mesh.port("payments"), mesh.id("payments"), "/charge")
            except CallFailed as exc:
                click.echo(f"frontend -> payments directly: refused ({exc})")
            deadline, ok, failed, seen = time.monotonic() + seconds, 0, 0, 0
            while time.monotonic() < deadline:
                try:
                    answer = await call(frontend, mesh.port("orders"), mesh.id("orders"), "/place")
                    ok += 1
                    if ok == 1:
                        charged_by = answer["payment"]["server"]
                        click.echo(f"frontend -> orders -> payments: placed, by {charged_by}")
                except CallFailed as exc:
                    failed += 1
                    click.echo(f"call failed: {exc}")
                generation = frontend.generation
                if generation != seen:
                    seen = generation
                    expires = dt.datetime.fromtimestamp(frontend.svid.not_after, dt.UTC)
                    serial = f"{frontend.svid.leaf().serial_number:x}"[:12]
                    click.echo(
                        f"SVID generation {generation}: serial {serial}…, expires {expires:%X}"
                    )
                await asyncio.sleep(0.05)
            click.echo(
                f"{ok} calls answered, {failed} failed, {mesh.charges} charges, "
                f"{mesh.rotator.rotations if mesh.rotator else 0} rotations"
            )
        finally:
            await mesh.close()

    with tempfile.TemporaryDirectory(prefix="archlab-zt-") as tmp:
        asyncio.run(run(Path(tmp)))


@zero_trust.command("issue")
@click.option("--trust-domain", default="prod.archlab.test", show_default=True)
@click.option("--ns", "namespace", default="shop", show_default=True)
@click.option("--name", required=True, help="The workload's service account name.")
@click.option("--ttl", type=click.FloatRange(1), default=3600.0, show_default=True, help="Seconds.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def issue(trust_domain: str, namespace: str, name: str, ttl: float, out: Path) -> None:
    """Create a trust domain and write one SVID (svid.pem, key.pem) and its bundle.pem."""
    from archlab.security.spiffe import TrustDomainAuthority

    authority = TrustDomainAuthority(trust_domain, time.time)
    svid = authority.issue(authority.id(namespace, name), ttl)
    out.mkdir(parents=True, exist_ok=True)
    (out / "svid.pem").write_bytes(svid.chain_pem)
    (out / "key.pem").touch(mode=0o600)
    (out / "key.pem").write_bytes(svid.key_pem)
    (out / "bundle.pem").write_bytes(authority.bundle_pem())
    click.echo(f"{svid.spiffe_id} -> {out}/svid.pem (expires in {ttl:.0f} s)")


@zero_trust.command("verify")
@click.argument("chain", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option("--at", type=float, default=None, help="Unix time to verify at (default: now).")
def verify(chain: Path, bundle: Path, at: float | None) -> None:
    """Verify an X.509-SVID chain against a trust bundle and print its SPIFFE ID.

    Exit 2 with one line when a file is not PEM or the chain does not verify.
    """
    from archlab.security.spiffe import IdentityError, load_certificates, verify_svid

    for path in (chain, bundle):
        try:
            load_certificates(path.read_bytes(), str(path))
        except IdentityError as exc:
            raise InputFormatError(path, "not PEM certificates") from exc
    try:
        spiffe_id = verify_svid(
            chain.read_bytes(), bundle.read_bytes(), time.time() if at is None else at
        )
    except IdentityError as exc:
        raise InputFormatError(chain, str(exc)) from exc
    click.echo(str(spiffe_id))


@click.group("security")
def security() -> None:
    """Access tokens at a resource server (codex 9.4): check one, or run the battery.

    \b
    Examples:
      archlab security serve --port 8080 --idp-port 8081
      archlab security battery
      archlab security check-token TOKEN --jwks jwks.json --issuer https://idp.test --audience https://api.test
    """


@security.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="The gateway's port.",
)
@click.option(
    "--idp-port",
    type=click.IntRange(0, 65535),
    default=8081,
    show_default=True,
    help="The IdP's port.",
)
@click.option(
    "--upstream",
    default=None,
    help="Base URL of the service behind the gateway (default: an echo service).",
)
def serve(host: str, port: int, idp_port: int, upstream: str | None) -> None:
    """Run the identity provider and the resource-server gateway on HTTP until interrupted.

    \b
    Routes: GET /accounts needs accounts:read, POST /transfers needs transfers:write.
    Clients: billing (both scopes), reporting (accounts:read), secret '<client>-secret'.
    """
    from archlab.security.serve import ServedGateway

    async def run() -> None:
        served = ServedGateway(host, port, idp_port, upstream)
        await served.start()
        click.echo(f"IdP     {served.idp.issuer} (/.well-known/openid-configuration)")
        click.echo(f"gateway {served.gateway_url}")
        click.echo(
            f"  TOKEN=$(curl -s -d grant_type=client_credentials -d client_id=billing "
            f"-d client_secret=billing-secret {served.idp.issuer}/token | jq -r .access_token)"
        )
        click.echo(f'  curl -H "Authorization: Bearer $TOKEN" {served.gateway_url}/accounts')
        try:
            await asyncio.Event().wait()
        finally:
            await served.stop()

    asyncio.run(run())


@security.command("battery")
def battery() -> None:
    """Send the negative battery and valid tokens through the gateway; print each status."""
    from archlab.security.measure_jwt_gateway import judge_jwt_gateway, measure

    measured, attacks, valid = asyncio.run(measure())
    for case in attacks + valid:
        mark = "ok " if case.status == case.expected else "BAD"
        click.echo(f"{mark} {case.name:28} {case.status}  {case.reason or 'accepted'}")
    click.echo(judge_jwt_gateway(measured).reason)


@security.command("check-token")
@click.argument("token")
@click.option(
    "--jwks",
    "jwks_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
)
@click.option("--issuer", required=True)
@click.option("--audience", required=True)
@click.option("--leeway", type=click.FloatRange(0, 300), default=30.0, show_default=True)
def check_token(token: str, jwks_path: Path, issuer: str, audience: str, leeway: float) -> None:
    """Validate an access token offline against a JWKS file; print its subject and scopes.

    Exit 2 with one line when the JWKS cannot be read or the token is rejected.
    """
    from archlab.security.jwks import JwksCache, parse_jwks
    from archlab.security.tokens import AccessTokenValidator, TokenRejected, ValidatorPolicy

    document = jwks_path.read_bytes()
    try:
        parse_jwks(document)
    except TokenRejected as exc:
        raise InputFormatError(jwks_path, exc.reason) from exc

    async def fetch() -> bytes:
        return document

    cache = JwksCache(fetch, time.time)
    validator = AccessTokenValidator(
        ValidatorPolicy(issuer, audience, leeway_s=leeway), cache, time.time
    )
    try:
        access = asyncio.run(validator.validate(token.strip()))
    except TokenRejected as exc:
        where = jwks_path if exc.status == 503 else "token"
        raise InputFormatError(where, exc.reason) from exc
    click.echo(
        json.dumps(
            {"sub": access.subject, "client_id": access.client_id, "scope": sorted(access.scopes)}
        )
    )
