"""Codex 10.2 claims: coalescing for hot channels, and tail latency without GC pauses."""

from __future__ import annotations

from archlab.cases.discord.measure_coalescing import (
    CoalescingMeasurement,
    discord_coalescing,
    judge_discord_coalescing,
)

__all__ = ["CoalescingMeasurement", "discord_coalescing", "judge_discord_coalescing"]
