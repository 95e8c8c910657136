"""Numbers with units, as people write them in requirements (codex 2.2).

Back-of-the-envelope estimation starts from figures like "10M DAU", "1KB per write", "keep
5y", "99.99% available". This module turns such text into plain floats, precisely:

* counts: ``10M``, ``1.5k``, ``2B`` (billion), ``3bn``, ``1e7``, ``10_000`` (suffixes k, M,
  B/bn, T are powers of 1000; case does not matter); rates also accept ``/s``, ``qps``,
  ``rps``.
* sizes, in bytes: SI prefixes are powers of 1000 (``1KB`` = ``1kB`` = 1,000 bytes, ``1MB`` =
  10^6) and IEC prefixes powers of 1024 (``1KiB`` = 1,024 bytes, ``1GiB`` = 2^30). A bare
  number is bytes. A lowercase ``b`` means bits and is refused rather than guessed.
* durations, in seconds: ``ms``, ``s``, ``min``, ``h``, ``d``, ``w``, ``mo`` (a twelfth of
  a year) and ``y`` (365 days, the year this whole package uses). A unit is required.
* fractions: ``20%``, ``0.2``, ``99.99%`` or ``5 nines``; a bare number must lie in [0, 1].

Every parser accepts a number (YAML often hands one over already) or a string, and raises
:class:`~archlab.errors.ConfigError` naming ``what`` was being parsed when the text is wrong.
Decimal arithmetic keeps ``1.1KB`` exactly 1,100 bytes.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from archlab.errors import ConfigError

SECONDS_PER_DAY = 86_400
DAYS_PER_YEAR = 365
SECONDS_PER_YEAR = SECONDS_PER_DAY * DAYS_PER_YEAR

_NUMBER = r"(?P<number>[+-]?(?:\d[\d_]*)?(?:\.\d+)?(?:[eE][+-]?\d+)?)"
_TEXT = re.compile(rf"^\s*{_NUMBER}\s*(?P<unit>[A-Za-z%/ ]*?)\s*$")

COUNT_SUFFIXES: dict[str, int] = {
    "": 1,
    "k": 10**3,
    "m": 10**6,
    "mm": 10**6,
    "b": 10**9,
    "bn": 10**9,
    "g": 10**9,
    "t": 10**12,
}
RATE_SUFFIXES = ("ops/s", "/sec", "/s", "qps", "rps")  # longest first

SI_PREFIXES = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
SIZE_UNITS: dict[str, int] = {
    **{f"{p}b": 1000**e for p, e in SI_PREFIXES.items()},
    **{f"{p}ib": 1024**e for p, e in SI_PREFIXES.items() if p},
}

DURATION_UNITS: dict[str, Decimal] = {
    "ms": Decimal("0.001"),
    "s": Decimal(1),
    "sec": Decimal(1),
    "min": Decimal(60),
    "h": Decimal(3600),
    "hr": Decimal(3600),
    "d": Decimal(SECONDS_PER_DAY),
    "day": Decimal(SECONDS_PER_DAY),
    "days": Decimal(SECONDS_PER_DAY),
    "w": Decimal(7 * SECONDS_PER_DAY),
    "mo": Decimal(SECONDS_PER_YEAR) / 12,
    "y": Decimal(SECONDS_PER_YEAR),
    "yr": Decimal(SECONDS_PER_YEAR),
    "years": Decimal(SECONDS_PER_YEAR),
}

Number = int | float | str


def _split(text: str, what: str, expected: str) -> tuple[Decimal, str]:
    match = _TEXT.match(text)
    number = match.group("number") if match else ""
    if match is None or not any(c.isdigit() for c in number):
        raise ConfigError(f"{what}: expected {expected}, found {text!r}")
    try:
        value = Decimal(number.replace("_", ""))
    except InvalidOperation:
        raise ConfigError(f"{what}: expected {expected}, found {text!r}") from None
    return value, match.group("unit").replace(" ", "")


def _finite(value: Number, what: str, expected: str) -> Decimal:
    if isinstance(value, bool):
        raise ConfigError(f"{what}: expected {expected}, found {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{what}: expected {expected}, found {value!r}")
    return Decimal(str(value)) if isinstance(value, float) else Decimal(value)


def _non_negative(value: Decimal, text: Number, what: str) -> float:
    if value < 0:
        raise ConfigError(f"{what}: expected a value ≥ 0, found {text!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ConfigError(f"{what}: expected a finite number, found {text!r} (too large)")
    return result


def parse_count(value: Number, what: str = "count") -> float:
    """A non-negative count such as ``10M``, ``1.5k`` or ``2B`` (billion)."""
    expected = "a count like 10M, 1.5k or 2B"
    if not isinstance(value, str):
        return _non_negative(_finite(value, what, expected), value, what)
    number, unit = _split(value, what, expected)
    factor = COUNT_SUFFIXES.get(unit.lower())
    if factor is None:
        raise ConfigError(f"{what}: expected {expected} (suffixes k, M, B, T), found {value!r}")
    return _non_negative(number * factor, value, what)


def parse_rate(value: Number, what: str = "rate") -> float:
    """A per-second rate: a count, optionally followed by ``/s``, ``qps`` or ``rps``."""
    if isinstance(value, str):
        text = value.strip()
        suffix = next((s for s in RATE_SUFFIXES if text.lower().endswith(s)), "")
        return parse_count(text[: len(text) - len(suffix)], what)
    return parse_count(value, what)


def parse_size(value: Number, what: str = "size") -> float:
    """Bytes: ``1KB`` is 1,000 bytes, ``1KiB`` is 1,024; a bare number is bytes."""
    expected = "a size like 1KB (1000 bytes), 4KiB (1024 bytes) or 512 (bytes)"
    if not isinstance(value, str):
        return _non_negative(_finite(value, what, expected), value, what)
    number, unit = _split(value, what, expected)
    if unit and unit[-1] == "b" and unit.lower() in SIZE_UNITS:
        raise ConfigError(
            f"{what}: expected bytes written with a capital B (1KB = 1000 bytes, 1KiB = 1024 "
            f"bytes), found {value!r} (a lowercase b means bits)"
        )
    factor = 1 if unit == "" else SIZE_UNITS.get(unit.lower())
    if factor is None:
        raise ConfigError(
            f"{what}: expected a size in B, KB, MB, GB, TB, PB (powers of 1000) or KiB, MiB, "
            f"GiB, TiB (powers of 1024), found {value!r}"
        )
    return _non_negative(number * factor, value, what)


def parse_duration(value: Number, what: str = "duration") -> float:
    """Seconds, from text with a unit: ``90d``, ``5y``, ``1.5h``, ``250ms``."""
    expected = "a duration with a unit like 30d, 5y, 12h or 250ms"
    if not isinstance(value, str):
        raise ConfigError(f"{what}: expected {expected}, found the bare number {value!r}")
    number, unit = _split(value, what, expected)
    factor = DURATION_UNITS.get(unit.lower())
    if factor is None:
        raise ConfigError(
            f"{what}: expected {expected}, found {value!r}"
            + (f" (unknown unit {unit!r})" if unit else " (no unit)")
        )
    return _non_negative(number * factor, value, what)


def parse_fraction(value: Number, what: str = "fraction") -> float:
    """A fraction in [0, 1]: ``20%``, ``0.2``, ``99.99%`` or ``5 nines`` (0.99999)."""
    expected = "a fraction like 0.2, a percentage like 20%, or '4 nines'"
    if isinstance(value, str):
        text = value.strip().lower()
        nines = re.fullmatch(r"(\d+)\s*nines?", text)
        if nines:
            count = int(nines.group(1))
            if not 1 <= count <= 12:
                raise ConfigError(f"{what}: expected between 1 and 12 nines, found {value!r}")
            return float(1 - Decimal(10) ** -count)
        number, unit = _split(value, what, expected)
        if unit == "%":
            number /= 100
        elif unit:
            raise ConfigError(f"{what}: expected {expected}, found {value!r}")
    else:
        number = _finite(value, what, expected)
    if number > 1 and not (isinstance(value, str) and value.strip().endswith("%")):
        raise ConfigError(
            f"{what}: expected a fraction ≤ 1 or a percentage, found {value!r} "
            f"(did you mean {value}%?)"
        )
    if not 0 <= number <= 1:
        raise ConfigError(f"{what}: expected a value between 0 and 100%, found {value!r}")
    return float(number)


def parse_latency_ms(value: Number, what: str = "latency_ms") -> float:
    """Milliseconds: a bare number is milliseconds; text with a unit (``0.2s``) is converted."""
    if isinstance(value, str):
        number, unit = _split(value, what, "milliseconds like 100 or a duration like 0.1s")
        if unit == "":
            return _non_negative(number, value, what)
        return parse_duration(value, what) * 1000
    return _non_negative(_finite(value, what, "a number of milliseconds"), value, what)


def format_count(value: float) -> str:
    """``12345678`` as ``12.3M``: three significant digits with a k/M/B/T suffix."""
    for suffix, factor in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= factor:
            return f"{_sig(value / factor)}{suffix}"
    return _sig(value)


def format_bytes(value: float) -> str:
    """Bytes with an SI unit (powers of 1000, like the parser's KB): ``10 GB``, ``1.5 TB``."""
    for unit, factor in (("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if abs(value) >= factor:
            return f"{_sig(value / factor)} {unit}"
    if abs(value) >= 1e3:
        return f"{_sig(value / 1e3)} KB"
    return f"{_sig(value)} B"


def format_duration(seconds: float) -> str:
    """A duration in the largest unit that keeps it ≥ 1: ``5.26 min``, ``8.76 h``, ``5 y``."""
    for unit, factor in (
        ("y", SECONDS_PER_YEAR),
        ("d", SECONDS_PER_DAY),
        ("h", 3600),
        ("min", 60),
        ("s", 1),
    ):
        if abs(seconds) >= factor:
            return f"{_sig(seconds / factor)} {unit}"
    return f"{_sig(seconds * 1000)} ms"


def format_fraction(value: float) -> str:
    """A fraction as a percentage with the digits it needs: ``99.99%``, ``20%``."""
    text = f"{value * 100:.6f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _sig(value: float) -> str:
    """Three significant digits, no trailing zeros, no exponent for everyday magnitudes."""
    if value == 0:
        return "0"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
