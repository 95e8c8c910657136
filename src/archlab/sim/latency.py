"""Delay distributions for network links and disk syncs: constant, uniform, lognormal.

A distribution is a frozen value with ``sample(rng) -> seconds``; the random stream is the
caller's, so draws stay inside their component's stream. :func:`parse_latency` reads the
command-line form: ``constant:0.002``, ``uniform:0.001,0.01``, ``lognormal:0.003,0.6``
(median and sigma of the underlying normal), durations in seconds, ``ms`` suffix allowed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol

from archlab.errors import ConfigError


class Latency(Protocol):
    def sample(self, rng: random.Random) -> float: ...

    @property
    def mean(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Constant:
    """Always ``seconds``."""

    seconds: float

    def sample(self, rng: random.Random) -> float:
        return self.seconds

    @property
    def mean(self) -> float:
        return self.seconds

    def __str__(self) -> str:
        return f"constant:{self.seconds:g}"


@dataclass(frozen=True, slots=True)
class Uniform:
    """Uniform in ``[low, high]``."""

    low: float
    high: float

    def sample(self, rng: random.Random) -> float:
        return self.low + (self.high - self.low) * rng.random()

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def __str__(self) -> str:
        return f"uniform:{self.low:g},{self.high:g}"


@dataclass(frozen=True, slots=True)
class LogNormal:
    """Lognormal with the given ``median`` and ``sigma`` (heavy right tail, like real RTTs)."""

    median: float
    sigma: float

    def sample(self, rng: random.Random) -> float:
        return self.median * math.exp(self.sigma * rng.gauss(0.0, 1.0))

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)

    def __str__(self) -> str:
        return f"lognormal:{self.median:g},{self.sigma:g}"


Distribution = Constant | Uniform | LogNormal


def _seconds(text: str, where: str) -> float:
    text = text.strip()
    scale = 1.0
    if text.endswith("ms"):
        text, scale = text[:-2], 1e-3
    elif text.endswith("us"):
        text, scale = text[:-2], 1e-6
    elif text.endswith("s"):
        text = text[:-1]
    try:
        value = float(text) * scale
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is not a duration") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{where}: duration must be finite and >= 0, got {value}")
    return value


def parse_latency(text: str, where: str = "--latency") -> Distribution:
    """``constant:D``, ``uniform:LO,HI`` or ``lognormal:MEDIAN,SIGMA`` (see module docstring)."""
    kind, _, args = text.partition(":")
    parts = [a for a in args.split(",") if a.strip()]
    expected = {"constant": 1, "uniform": 2, "lognormal": 2}
    if kind not in expected:
        raise ConfigError(
            f"{where}: unknown distribution {kind!r}; use constant:D, uniform:LO,HI "
            f"or lognormal:MEDIAN,SIGMA"
        )
    if len(parts) != expected[kind]:
        raise ConfigError(f"{where}: {kind} takes {expected[kind]} value(s), got {text!r}")
    if kind == "constant":
        return Constant(_seconds(parts[0], where))
    if kind == "uniform":
        low, high = _seconds(parts[0], where), _seconds(parts[1], where)
        if high < low:
            raise ConfigError(f"{where}: uniform needs LO <= HI, got {text!r}")
        return Uniform(low, high)
    try:
        sigma = float(parts[1])
    except ValueError:
        raise ConfigError(f"{where}: sigma {parts[1]!r} is not a number") from None
    if not 0 <= sigma <= 5:
        raise ConfigError(f"{where}: sigma must be in [0, 5], got {sigma}")
    return LogNormal(_seconds(parts[0], where), sigma)
