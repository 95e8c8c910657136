"""Formatting measured values for people: tables, verdict values, durations."""

from __future__ import annotations

import math

from archlab.lab.result import Cell


def number(value: Cell) -> str:
    """A cell as text: integers with separators, floats to three significant digits."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        if value == 0:
            return "0"
        magnitude = abs(value)
        if magnitude >= 1e6 or magnitude < 1e-3:
            return f"{value:.3g}"
        if magnitude >= 100:
            return f"{value:,.0f}"
        if magnitude >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if magnitude < 1 else f"{value:.2f}"
    return str(value)


def is_numeric(value: Cell) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"
