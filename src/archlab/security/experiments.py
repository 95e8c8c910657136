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
from archlab.security.measure_zero_rtt_replay import (
    ZeroRttReplayMeasurement,
    judge_zero_rtt_replay,
    zero_rtt_replay,
)

__all__ = [
    "JwtGatewayMeasurement",
    "MtlsIdentityMeasurement",
    "ZeroRttReplayMeasurement",
    "judge_jwt_gateway",
    "judge_mtls_identity",
    "judge_zero_rtt_replay",
    "jwt_gateway",
    "mtls_identity",
    "zero_rtt_replay",
]
