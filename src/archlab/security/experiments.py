"""The security chapter's claims (codex 3.4 and 9.4); importing this module registers them."""

from __future__ import annotations

from archlab.security.measure_jwt_gateway import (
    JwtGatewayMeasurement,
    judge_jwt_gateway,
    jwt_gateway,
)
from archlab.security.measure_mtls_identity import (
    MtlsIdentityMeasurement,
    judge_mtls_identity,
    mtls_identity,
)
from archlab.security.measure_tls_handshakes import (
    TlsHandshakesMeasurement,
    judge_tls_handshakes,
    tls_handshakes,
)
from archlab.security.measure_zero_rtt_replay import (
    ZeroRttReplayMeasurement,
    judge_zero_rtt_replay,
    zero_rtt_replay,
)

__all__ = [
    "JwtGatewayMeasurement",
    "MtlsIdentityMeasurement",
    "TlsHandshakesMeasurement",
    "ZeroRttReplayMeasurement",
    "judge_jwt_gateway",
    "judge_mtls_identity",
    "judge_tls_handshakes",
    "judge_zero_rtt_replay",
    "jwt_gateway",
    "mtls_identity",
    "tls_handshakes",
    "zero_rtt_replay",
]
