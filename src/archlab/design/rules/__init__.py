"""The review rules, one module per area of the codex; importing this package registers
them all in :data:`~archlab.design.rules.base.RULES`."""

from __future__ import annotations

from archlab.design.rules import (
    capacity,
    consistency,
    network,
    operations,
    platform,
    storage,
)
from archlab.design.rules.base import RULES, SEVERITIES, Finding, Hit, Rule, Severity

__all__ = [
    "RULES",
    "SEVERITIES",
    "Finding",
    "Hit",
    "Rule",
    "Severity",
    "capacity",
    "consistency",
    "network",
    "operations",
    "platform",
    "storage",
]
