"""An experiment's parameters from the command line: ``--set NAME=VALUE``, typed and in range.

A value given with ``--set`` is converted to the type of the profile's own value (int, float,
bool, or a comma-separated list of those) and then checked against the parameter's valid range,
before anything runs, so a bad value is one line naming the parameter and its range instead of
an exception from deep inside the measurement.

The range is the one the experiment declares (``@experiment(..., ranges={"xid_bits": (8, 32)})``,
``None`` for an open end) or else the default one (:func:`default_range`): numbers must be
positive (integers at least 1, floats above 0) and finite, unless a profile itself uses zero or
less, in which case they must be at least the smallest value a profile uses. Parameters that are
text (``"3,5,7"``) are not range-checked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from archlab.errors import ConfigError

#: A declared range: (lowest, highest), both included, either end None for open.
Range = tuple[float | None, float | None]


@dataclass(frozen=True)
class ParamRange:
    """A parameter's valid values: ``low`` (excluded when ``low_open``) up to ``high``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def admits(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def __str__(self) -> str:
        """``≥ 1``, ``> 0``, ``≤ 0.5``, ``between 8 and 32`` or ``a finite number``."""
        low, high = self.low, self.high
        if low is not None and high is not None and not self.low_open:
            return f"between {_show(low)} and {_show(high)}"
        parts = []
        if low is not None:
            parts.append(f"{'>' if self.low_open else '≥'} {_show(low)}")
        if high is not None:
            parts.append(f"≤ {_show(high)}")
        return " and ".join(parts) or "a finite number"


def declared(bounds: Range) -> ParamRange:
    return ParamRange(bounds[0], bounds[1])


def default_range(profile_values: Iterable[Any]) -> ParamRange:
    """The range of a parameter that declares none (see the module docstring)."""
    values = [v for value in profile_values for v in _items(value)]
    numbers = [float(v) for v in values if _is_number(v)]
    if not numbers:
        return ParamRange()
    if min(numbers) <= 0:
        return ParamRange(min(numbers))
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return ParamRange(1)
    return ParamRange(0, low_open=True)


def override(
    exp_id: str,
    profile: Mapping[str, Any],
    name: str,
    text: Any,
    valid: ParamRange,
) -> Any:
    """``--set name=text`` as a value of the profile's type, refused outside ``valid``."""
    value = coerce(exp_id, name, text, profile[name])
    for number in (v for v in _items(value) if _is_number(v)):
        if not valid.admits(float(number)):
            raise ConfigError(
                f"--set {name}={_show(value)}: parameter {name} of {exp_id} must be {valid}, "
                f"got {_show(number)}"
            )
    return value


def coerce(exp_id: str, name: str, value: Any, default: Any) -> Any:
    """Convert a ``--set name=value`` string to the type of the profile's default."""
    if not isinstance(value, str):
        return value
    try:
        if isinstance(default, bool):
            lowered = value.lower()
            if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(value)
            return lowered in {"true", "1", "yes"}
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, list):
            kind = type(default[0]) if default else str
            return [kind(v) for v in value.split(",") if v]
    except ValueError:
        kind_name = type(default).__name__
        raise ConfigError(
            f"experiment {exp_id}: parameter {name} expects {kind_name}, got {value!r}"
        ) from None
    return value


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(_show(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
