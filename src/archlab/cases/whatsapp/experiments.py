"""Codex 10.1 claims: isolation per connection, and push as a tickle."""

from __future__ import annotations

from archlab.cases.whatsapp.measure_isolation import (
    IsolationMeasurement,
    judge_whatsapp_isolation,
    whatsapp_isolation,
)
from archlab.cases.whatsapp.measure_push import PushMeasurement, judge_push_tickle, push_tickle

__all__ = [
    "IsolationMeasurement",
    "PushMeasurement",
    "judge_push_tickle",
    "judge_whatsapp_isolation",
    "push_tickle",
    "whatsapp_isolation",
]
