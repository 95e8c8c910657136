"""The security chapter's claims (codex 3.4 and 9.4); importing this module registers them."""

from __future__ import annotations

from archlab.security.measure_jwt_gateway import (
    JwtGatewayMeasurement,
    judge_jwt_gateway,
    jwt_gateway,
)

__all__ = ["JwtGatewayMeasurement", "judge_jwt_gateway", "jwt_gateway"]
