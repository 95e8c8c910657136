"""Formatting measured values for people: tables, verdict values, durations, prose.

Numbers get three significant digits (38.9x, not 38.885x; 0.00123; 1,235 for values from
100 up, whose integer part is kept), very large and very small ones read 1.23×10⁸, and the
text experiments write (summaries, reasons, notes, captions) gets the same rounding and one
arrow style, → (:func:`prose`).
"""

from __future__ import annotations

import math
import re

from archlab.lab.result import Cell


def number(value: Cell) -> str:  # noqa: PLR0911 - one return per kind of value a cell can hold
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
        if magnitude >= 1e9 or magnitude < 1e-3:
            return scientific(value)
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


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def scientific(value: float) -> str:
    """``1.23×10⁸``: three significant digits and a real exponent, not ``1.23e+08``."""
    if value == 0 or not math.isfinite(value):
        return number(value)
    exponent = math.floor(math.log10(abs(value)))
    mantissa = float(f"{value / 10**exponent:.3g}")
    if abs(mantissa) >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    power = "10" + str(exponent).translate(_SUPERSCRIPT)
    return power if mantissa == 1 else f"{mantissa:g}×{power}"


#: A decimal number standing alone (not part of a version, an address or a dotted name).
_DECIMAL = re.compile(r"(?<![\w.])(-?\d+\.\d+)(?![\w.]*\d)(?!\.\d)")
_ARROW = re.compile(r"\s(?:->|=>|⇒|⟶|➜|-->)\s")
_E_NOTATION = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?e[+-]?\d+\b")
_CARET = re.compile(r"(?<=\d)\^\{?(-?\d+)\}?")


def prose(text: str) -> str:
    """Text for people: decimals to three significant digits, arrows as →, 2^31 as 2³¹.

    Integers, versions (3.12.1), addresses and dotted names are left alone; a number that
    already has three significant digits or fewer is not touched (5.0 stays 5.0).
    """
    text = _ARROW.sub(" → ", text)
    text = _CARET.sub(lambda m: m.group(1).translate(_SUPERSCRIPT), text)
    text = _E_NOTATION.sub(lambda m: scientific(float(m.group(0))), text)
    return _DECIMAL.sub(lambda m: _round_decimal(m.group(1)), text)


def _round_decimal(literal: str) -> str:
    digits = literal.lstrip("-").replace(".", "").lstrip("0")
    if len(digits) <= 3:
        return literal
    value = float(literal)
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{float(f'{value:.3g}'):g}" if abs(value) >= 1e-3 else scientific(value)


def percent_notes(labels: list[str], units: list[str], rows: list[list[Cell]]) -> list[str]:
    """Why a CPU share above 100% is possible, for each CPU-% column that shows one."""
    notes = []
    for index, (label, unit) in enumerate(zip(labels, units, strict=True)):
        if unit != "%" or "cpu" not in label.lower():
            continue
        values = [r[index] for r in rows if is_numeric(r[index])]
        highest = max((float(v) for v in values if v is not None), default=0.0)
        if highest > 100:
            notes.append(
                f"{label} reaches {number(highest)}%: it is CPU time (user + system) divided by "
                "wall-clock time, which counts every thread and the kernel work charged to them, "
                "so work on more than one core at once adds up past 100%."
            )
    return notes
