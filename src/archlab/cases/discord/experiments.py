"""Codex 10.2 claims: coalescing for hot channels, and tail latency without GC pauses."""

from __future__ import annotations

from archlab.cases.discord.measure_coalescing import (
    CoalescingMeasurement,
    discord_coalescing,
    judge_discord_coalescing,
)
from archlab.cases.discord.measure_tail import (
    TailMeasurement,
    discord_tail_latency,
    judge_discord_tail_latency,
)

__all__ = [
    "CoalescingMeasurement",
    "TailMeasurement",
    "discord_coalescing",
    "discord_tail_latency",
    "judge_discord_coalescing",
    "judge_discord_tail_latency",
]
