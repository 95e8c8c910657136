"""Zero trust (9.4): SVIDs, the workload API, mTLS authorization by SPIFFE ID, rotation."""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509

from archlab.cli import cli
from archlab.security import zero_trust
from archlab.security.measure_mtls_identity import (
    EXPECTED,
    MtlsIdentityMeasurement,
    judge_mtls_identity,
    measure,
)
from archlab.security.spiffe import (
    IdentityError,
    SpiffeId,
    TrustDomainAuthority,
    spiffe_id_of,
    verify_svid,
)
from archlab.security.workload_api import (
    PeerCredentials,
    RegistrationEntry,
    WorkloadApiServer,
    attest,
    fetch_identity,
)


def test_spiffe_ids_parse_and_print() -> None:
    text = "spiffe://prod.example/ns/shop/sa/orders"
    assert str(SpiffeId.parse(text)) == text
    for bad in ("https://prod.example/ns/a/sa/b", "spiffe://Prod/ns/a/sa/b", "spiffe://td/a/b"):
        with pytest.raises(IdentityError):
            SpiffeId.parse(bad)


def test_an_svid_is_a_short_lived_leaf_with_one_uri_san() -> None:
    authority = TrustDomainAuthority("prod.example", time.time)
    svid = authority.issue(authority.id("shop", "orders"), 300)
    leaf = svid.leaf()
    assert spiffe_id_of(leaf) == authority.id("shop", "orders")
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {o.dotted_string for o in eku} == {"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"}
    lifetime = leaf.not_valid_after_utc.timestamp() - time.time()
    assert 290 < lifetime <= 300
    assert verify_svid(svid.chain_pem, authority.bundle_pem(), time.time()) == svid.spiffe_id


def test_expired_foreign_and_revoked_svids_do_not_verify() -> None:
    authority = TrustDomainAuthority("prod.example", time.time)
    svid = authority.issue(authority.id("shop", "orders"), 60)
    with pytest.raises(IdentityError, match="not valid"):
        verify_svid(svid.chain_pem, authority.bundle_pem(), time.time() + 3600)
    other = TrustDomainAuthority("other.example", time.time)
    with pytest.raises(IdentityError, match="does not verify"):
        verify_svid(svid.chain_pem, other.bundle_pem(), time.time())
    authority.rotate_ca()
    assert verify_svid(svid.chain_pem, authority.bundle_pem(), time.time()) == svid.spiffe_id
    authority.revoke_oldest_ca()
    with pytest.raises(IdentityError, match="does not verify"):
        verify_svid(svid.chain_pem, authority.bundle_pem(), time.time())
    with pytest.raises(IdentityError, match="only root"):
        TrustDomainAuthority("x.example", time.time).revoke_oldest_ca()


def test_attestation_matches_every_selector() -> None:
    orders, billing = SpiffeId("td", "shop", "orders"), SpiffeId("td", "shop", "billing")
    entries = [
        RegistrationEntry(orders, uid=1000, exe="/usr/bin/orders"),
        RegistrationEntry(billing, uid=1000, pid=42),
    ]
    assert attest(PeerCredentials(7, 1000, 1000, "/usr/bin/orders"), entries) == [orders]
    assert attest(PeerCredentials(42, 1000, 1000, "/usr/bin/python"), entries) == [billing]
    assert attest(PeerCredentials(42, 0, 0, "/usr/bin/orders"), entries) == []


def test_the_workload_api_attests_the_caller_by_its_kernel_credentials(tmp_path: Path) -> None:
    authority = TrustDomainAuthority("prod.example", time.time)
    me = authority.id("shop", "me")

    async def run(entry: RegistrationEntry) -> str:
        server = WorkloadApiServer(authority, tmp_path / "api.sock", ttl_s=60)
        server.register(entry)
        await server.start()
        try:
            identity = await fetch_identity(tmp_path / "api.sock")
            return str(identity.svids[0].spiffe_id)
        except IdentityError as exc:
            return str(exc)
        finally:
            await server.close()

    assert asyncio.run(run(RegistrationEntry(me, uid=os.getuid(), pid=os.getpid()))) == str(me)
    other_pid = RegistrationEntry(me, uid=os.getuid(), pid=os.getpid() + 1)
    assert "no registration entry matches" in asyncio.run(run(other_pid))
    with pytest.raises(IdentityError, match="workload API"):
        asyncio.run(fetch_identity(tmp_path / "absent.sock"))


@pytest.fixture(scope="module")
def mesh_run(tmp_path_factory: pytest.TempPathFactory) -> MtlsIdentityMeasurement:
    return asyncio.run(measure(tmp_path_factory.mktemp("mesh"), ttl_s=3, load_s=2, workers=2))[0]


def test_only_the_right_identities_are_served_and_rotation_loses_nothing(
    mesh_run: MtlsIdentityMeasurement,
) -> None:
    assert mesh_run.observed == EXPECTED
    assert mesh_run.requests_during_rotation > 0
    assert mesh_run.failed_during_rotation == 0
    assert mesh_run.long_lived_survived == mesh_run.long_lived_connections


def test_a_policy_that_admits_everyone_is_refuted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(zero_trust.POLICY, "payments", ("orders", "frontend"))
    measured = asyncio.run(measure(tmp_path, ttl_s=30, load_s=0.2, workers=1))[0]
    assert measured.observed["not_allowed_id"] == "ok"
    assert judge_mtls_identity(measured).verdict == "refuted"


def test_the_judge_reaches_each_verdict(mesh_run: MtlsIdentityMeasurement) -> None:
    base = dict(
        expected=EXPECTED,
        observed=dict(EXPECTED),
        requests_during_rotation=500,
        failed_during_rotation=0,
        rotations=2,
        long_lived_connections=2,
        long_lived_survived=2,
        served_past_own_expiry_s=1.5,
    )
    assert judge_mtls_identity(MtlsIdentityMeasurement(**base)).verdict == "holds"  # type: ignore[arg-type]
    lossy = {**base, "failed_during_rotation": 3}
    assert judge_mtls_identity(MtlsIdentityMeasurement(**lossy)).verdict == "nuanced"  # type: ignore[arg-type]
    still = {**base, "rotations": 0}
    assert judge_mtls_identity(MtlsIdentityMeasurement(**still)).verdict == "nuanced"  # type: ignore[arg-type]
    admitted = {**base, "observed": {**EXPECTED, "expired_svid": "ok"}}
    judgement = judge_mtls_identity(MtlsIdentityMeasurement(**admitted))  # type: ignore[arg-type]
    assert judgement.verdict == "refuted" and "expired_svid" in judgement.reason


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "svid"
    assert (
        runner.invoke(cli, ["zero-trust", "issue", "--name", "orders", "--out", str(out)]).exit_code
        == 0
    )
    ok = runner.invoke(
        cli, ["zero-trust", "verify", str(out / "svid.pem"), "--bundle", str(out / "bundle.pem")]
    )
    assert ok.exit_code == 0 and "sa/orders" in ok.output
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    jwks = tmp_path / "jwks.json"
    jwks.write_text("{not json")
    from archlab.cli import main

    cases = [
        ["zero-trust", "verify", str(garbage), "--bundle", str(out / "bundle.pem")],
        [
            "zero-trust",
            "verify",
            str(out / "svid.pem"),
            "--bundle",
            str(out / "bundle.pem"),
            "--at",
            "4102444800",
        ],
        [
            "security",
            "check-token",
            "garbage",
            "--jwks",
            str(jwks),
            "--issuer",
            "a",
            "--audience",
            "b",
        ],
    ]
    for args in cases:
        with pytest.raises(SystemExit) as exited:
            main(args)
        assert exited.value.code == 2


def test_the_demo_runs_three_services(tmp_path: Path) -> None:
    args = ["zero-trust", "demo", "--seconds", "1", "--ttl", "30", "--one-process"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "frontend -> payments directly: refused" in result.output
    assert "0 failed" in result.output


def test_the_demo_runs_each_service_in_its_own_process() -> None:
    result = CliRunner().invoke(cli, ["zero-trust", "demo", "--seconds", "1", "--ttl", "30"])
    assert result.exit_code == 0, result.output
    pids = re.findall(
        r"\(pid (\d+)\) is spiffe://prod.archlab.test/ns/shop/sa/(\w+)", result.output
    )
    assert [name for _, name in pids] == ["payments", "orders", "frontend"]
    assert len({pid for pid, _ in pids}) == 3
    assert "frontend -> payments directly: outcome refused: forbidden" in result.output
    assert "outcome placed" in result.output and ", 0 failed," in result.output


CHILD = """
import json, socket, sys
sys.stdin.readline()  # wait until the test has registered (or not) this pid
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"op": "fetch_x509_svid"}\\n')
data = b""
while not data.endswith(b"\\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
answer = json.loads(data)
print(answer.get("error") or answer["svids"][0]["spiffe_id"])
"""


def test_another_process_is_attested_by_its_own_pid(tmp_path: Path) -> None:
    """The kernel, not the caller, says who is calling: only the registered child gets an SVID."""
    import subprocess
    import sys

    authority = TrustDomainAuthority("prod.example", time.time)
    sock = tmp_path / "api.sock"

    async def run() -> tuple[str, str]:
        server = WorkloadApiServer(authority, sock, ttl_s=60)
        await server.start()
        outputs = []
        try:
            for register in (True, False):
                child = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-c",
                    CHILD,
                    str(sock),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                )
                if register:
                    entry = RegistrationEntry(authority.id("batch", "child"), pid=child.pid)
                    server.register(entry)
                out, _ = await asyncio.wait_for(child.communicate(b"go\n"), 30)
                outputs.append(out.decode().strip())
        finally:
            await server.close()
        return outputs[0], outputs[1]

    registered, stranger = asyncio.run(run())
    assert registered == "spiffe://prod.example/ns/batch/sa/child"
    assert stranger.startswith("no registration entry matches pid=")
