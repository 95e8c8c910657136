"""A SPIFFE-style identity authority: a trust domain, its CAs and short-lived X.509-SVIDs (9.4).

Zero trust gives every workload a cryptographic identity instead of trusting its network
address. Following the SPIFFE specifications (docs/references.md §9.4):

* a SPIFFE ID is ``spiffe://<trust-domain>/<path>``; here the path is ``ns/<ns>/sa/<name>``;
* an X.509-SVID is a leaf certificate carrying exactly one URI SAN, that ID, with
  ``CA:FALSE``, digital-signature key usage and both TLS client and server EKUs; it lives for
  minutes, so it is rotated, not revoked;
* the trust bundle is the set of root certificates of the trust domain; an authority signs
  leaves with an intermediate CA below its root. Revocation is a bundle update: a new root is
  added, then the old one is removed, and every SVID chaining to it stops verifying.

Certificates and keys are made by ``cryptography`` (EC P-256); verification of a chain against
a bundle uses ``cryptography.x509.verification``. The clock is injected.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from archlab.errors import ArchlabError

_ID = re.compile(r"^spiffe://([a-z0-9.\-_]+)/ns/([A-Za-z0-9.\-_]+)/sa/([A-Za-z0-9.\-_]+)$")
_TRUST_DOMAIN = re.compile(r"^[a-z0-9.\-_]+$")
#: Leaves start this long before "now", so a peer whose clock is a little behind accepts them.
BACKDATE = dt.timedelta(seconds=30)


class IdentityError(ArchlabError):
    """A SPIFFE ID, certificate or bundle that is malformed or does not verify."""


@dataclass(frozen=True)
class SpiffeId:
    trust_domain: str
    namespace: str
    name: str

    @classmethod
    def parse(cls, text: str) -> SpiffeId:
        match = _ID.fullmatch(text)
        if match is None:
            raise IdentityError(f"{text!r} is not spiffe://<trust-domain>/ns/<ns>/sa/<name>")
        return cls(*match.groups())

    def __str__(self) -> str:
        return f"spiffe://{self.trust_domain}/ns/{self.namespace}/sa/{self.name}"


@dataclass(frozen=True)
class Svid:
    """An X.509-SVID: the leaf and intermediate (PEM), its private key (PEM), its ID."""

    spiffe_id: SpiffeId
    chain_pem: bytes
    key_pem: bytes
    not_after: float

    def leaf(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.chain_pem)[0]


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _ca(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    trust_domain: str,
    now: dt.datetime,
    lifetime: dt.timedelta,
    path_length: int | None,
) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "archlab"),
            x509.NameAttribute(NameOID.COMMON_NAME, subject),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(f"spiffe://{trust_domain}")]
            ),
            critical=False,
        )
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class CertificateAuthority:
    """One root and the intermediate that signs leaves below it."""

    root: x509.Certificate
    intermediate: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, trust_domain: str, now: dt.datetime, generation: int) -> CertificateAuthority:
        root_key, mid_key = _key(), _key()
        root = _ca(
            f"{trust_domain} root {generation}",
            root_key,
            None,
            root_key,
            trust_domain,
            now,
            dt.timedelta(days=365),
            1,
        )
        mid = _ca(
            f"{trust_domain} intermediate {generation}",
            mid_key,
            root,
            root_key,
            trust_domain,
            now,
            dt.timedelta(days=30),
            0,
        )
        return cls(root, mid, mid_key)


@dataclass
class TrustDomainAuthority:
    """Issues SVIDs for one trust domain and publishes its trust bundle."""

    trust_domain: str
    clock: Callable[[], float]
    cas: list[CertificateAuthority] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not _TRUST_DOMAIN.fullmatch(self.trust_domain):
            raise IdentityError(
                f"trust domain {self.trust_domain!r}: lower-case letters, digits, .-_"
            )
        if not self.cas:
            self.rotate_ca()

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def id(self, namespace: str, name: str) -> SpiffeId:
        return SpiffeId(self.trust_domain, namespace, name)

    def rotate_ca(self) -> None:
        """A new root and intermediate sign from now on; the old root stays in the bundle."""
        self.cas.append(CertificateAuthority.create(self.trust_domain, self.now(), len(self.cas)))

    def revoke_oldest_ca(self) -> None:
        """Drop the oldest root from the bundle: every SVID chaining to it stops verifying."""
        if len(self.cas) < 2:
            raise IdentityError("cannot remove the only root: rotate the CA first")
        self.cas.pop(0)

    def bundle_pem(self) -> bytes:
        return _pem(*(ca.root for ca in self.cas))

    def issue(self, spiffe_id: SpiffeId, ttl_s: float, at: float | None = None) -> Svid:
        """A fresh key and a leaf for ``spiffe_id``, valid for ``ttl_s`` seconds from now
        (or from ``at``: a past ``at`` makes an SVID that has already expired, for tests)."""
        if spiffe_id.trust_domain != self.trust_domain:
            raise IdentityError(f"{spiffe_id} is not in trust domain {self.trust_domain}")
        now = self.now() if at is None else dt.datetime.fromtimestamp(at, dt.UTC)
        ca, key = self.cas[-1], _key()
        not_after = now + dt.timedelta(seconds=ttl_s)
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))  # the identity is the URI SAN alone (then critical)
            .issuer_name(ca.intermediate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, True, False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(str(spiffe_id))]),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca.intermediate_key.public_key()
                ),
                False,
            )
            .sign(ca.intermediate_key, hashes.SHA256())
        )
        return Svid(spiffe_id, _pem(leaf, ca.intermediate), _pem_key(key), not_after.timestamp())


def spiffe_id_of(cert: x509.Certificate) -> SpiffeId:
    """The one SPIFFE ID in a leaf's URI SAN (IdentityError when there is not exactly one)."""
    return SpiffeId.parse(_one_uri(cert))


def trust_domain_of(ca_cert: x509.Certificate) -> str:
    """The trust domain a CA certificate speaks for (its URI SAN ``spiffe://<td>``)."""
    return _one_uri(ca_cert).removeprefix("spiffe://").split("/", 1)[0]


def _one_uri(cert: x509.Certificate) -> str:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound as exc:
        raise IdentityError("certificate has no subjectAltName") from exc
    uris = list(san.get_values_for_type(x509.UniformResourceIdentifier))
    if len(uris) != 1:
        raise IdentityError(f"an X.509-SVID has exactly one URI SAN, this one has {len(uris)}")
    return uris[0]


def load_certificates(pem: bytes, where: str) -> list[x509.Certificate]:
    """PEM certificates, or an IdentityError naming ``where`` (never a traceback)."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise IdentityError(f"{where}: not PEM certificates") from exc
    if not certs:
        raise IdentityError(f"{where}: no certificate")
    return certs


def verify_svid(chain_pem: bytes, bundle_pem: bytes, at: float) -> SpiffeId:
    """Verify an SVID chain against a trust bundle at time ``at``; return its SPIFFE ID."""
    leaf, *intermediates = load_certificates(chain_pem, "SVID")
    roots = load_certificates(bundle_pem, "bundle")
    when = dt.datetime.fromtimestamp(at, dt.UTC)
    verifier = PolicyBuilder().store(Store(roots)).time(when).build_client_verifier()
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        why = str(exc).split(" (encountered", 1)[0].removeprefix("validation failed: ")
        raise IdentityError(f"SVID chain does not verify against the bundle: {why}") from exc
    spiffe_id = spiffe_id_of(leaf)
    bundle_domains = {trust_domain_of(r) for r in roots}
    if spiffe_id.trust_domain not in bundle_domains:
        raise IdentityError(f"{spiffe_id} is not in the bundle's trust domain")
    return spiffe_id
