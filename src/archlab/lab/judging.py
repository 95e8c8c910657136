"""The typed contract between an experiment's measurement and its judge.

An experiment measures into a frozen dataclass of its own (a *measurement*): every number its
judge may read is a declared, typed field, so a judge cannot read a key that was never written
(mypy and the dataclass constructor both refuse it). The judge returns a :class:`Judgement`
whose :class:`Evidence` lists exactly the numbers the rule compared, each against a
:class:`Threshold` that says where its value comes from (the codex's number, a paper's figure,
a physical bound). The report shows that evidence first and folds the rest of the measurement
away; the JSON keeps the whole measurement, flattened by :func:`flatten`.

The pattern, for every experiment::

    SPEEDUP = Threshold(2.0, "x", "codex 7.1: sequential I/O 'much faster'; 2x is the least ...")

    @dataclass(frozen=True)
    class SeqIO:
        speedup: float

    def judge(m: SeqIO) -> Judgement:
        ev = Evidence("sequential / random", m.speedup, "x", at_least=SPEEDUP)
        return holds("...", ev) if ev.met else refuted("...", ev)
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Verdict = Literal["holds", "refuted", "nuanced"]
VERDICTS: tuple[Verdict, ...] = ("holds", "refuted", "nuanced")

#: A scalar measured value: numbers, flags, short labels.
Value = float | int | str | bool | None


@dataclass(frozen=True)
class Threshold:
    """A number a rule compares a measurement against, and where that number comes from."""

    value: float
    unit: str
    source: str

    def __post_init__(self) -> None:
        if not self.source.strip():
            raise ValueError(f"threshold {self.value} {self.unit}: every threshold names a source")

    def __str__(self) -> str:
        return f"{_fmt(self.value)}{_unit(self.unit)}"


@dataclass(frozen=True)
class Evidence:
    """One number the rule used, with the threshold it was held against (if any).

    Give at most one of ``at_least`` / ``at_most``; ``met`` says whether the value passed.
    Evidence without a threshold is context the rule reports (a count, a label).
    """

    name: str
    value: Value
    unit: str = ""
    at_least: Threshold | None = None
    at_most: Threshold | None = None

    def __post_init__(self) -> None:
        if self.at_least is not None and self.at_most is not None:
            raise ValueError(f"evidence {self.name!r}: give at_least or at_most, not both")

    @property
    def threshold(self) -> Threshold | None:
        return self.at_least if self.at_least is not None else self.at_most

    @property
    def met(self) -> bool | None:
        """Whether the value passed its threshold; None when there is none or no number."""
        limit = self.threshold
        if limit is None or isinstance(self.value, bool) or not isinstance(self.value, int | float):
            return None
        if math.isnan(self.value):
            return False
        if self.at_least is not None:
            return self.value >= limit.value
        return self.value <= limit.value

    @property
    def comparison(self) -> str:
        """``≥ 2x`` or ``≤ 0.01`` or empty."""
        if self.at_least is not None:
            return f"≥ {self.at_least}"
        if self.at_most is not None:
            return f"≤ {self.at_most}"
        return ""

    def to_dict(self) -> dict[str, Any]:
        limit = self.threshold
        return {
            "name": self.name,
            "value": _finite(self.value),
            "unit": self.unit,
            "comparison": self.comparison,
            "met": self.met,
            "source": limit.source if limit is not None else "",
        }


@dataclass(frozen=True)
class Judgement:
    """A verdict, the sentence with its numbers that explains it, and the evidence it used."""

    verdict: Verdict
    reason: str
    evidence: tuple[Evidence, ...] = ()


def holds(reason: str, *evidence: Evidence) -> Judgement:
    return Judgement("holds", reason, evidence)


def refuted(reason: str, *evidence: Evidence) -> Judgement:
    return Judgement("refuted", reason, evidence)


def nuanced(reason: str, *evidence: Evidence) -> Judgement:
    return Judgement("nuanced", reason, evidence)


def flatten(measured: Any, prefix: str = "") -> dict[str, Value]:
    """A measurement (dataclass, mapping, list, scalars) as flat ``dotted.key -> scalar``.

    Nested dataclasses and mappings join their keys with ``.``; lists index with ``[i]``.
    This is what results store under ``values`` and what ``archlab compare`` lines up.
    """
    out: dict[str, Value] = {}
    if dataclasses.is_dataclass(measured) and not isinstance(measured, type):
        items: Mapping[str, Any] = {
            f.name: getattr(measured, f.name) for f in dataclasses.fields(measured)
        }
        for key, value in items.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else key))
    elif isinstance(measured, Mapping):
        for key, value in measured.items():
            if not isinstance(key, str) or not key or any(c in key for c in ".[]"):
                raise ValueError(f"measured key {key!r} under {prefix!r}: use a plain name")
            out.update(flatten(value, f"{prefix}.{key}" if prefix else key))
    elif isinstance(measured, list | tuple):
        for i, value in enumerate(measured):
            out.update(flatten(value, f"{prefix}[{i}]"))
    elif measured is None or isinstance(measured, bool | int | float | str):
        out[prefix or "value"] = _finite(measured)
    else:
        raise TypeError(f"measured value {prefix!r} is a {type(measured).__name__}, not a scalar")
    return out


def _finite(value: Value) -> Value:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value: float) -> str:
    return f"{value:.3g}" if isinstance(value, float) and not value.is_integer() else f"{value:g}"


def _unit(unit: str) -> str:
    if not unit:
        return ""
    return unit if unit in {"x", "%"} else f" {unit}"


def rebuild(kind: Any, values: Mapping[str, Value], prefix: str = "") -> Any:
    """The inverse of :func:`flatten`: a measurement of type ``kind`` from stored values.

    ``kind`` is a dataclass, a ``dict[str, X]``, a ``list[X]`` / ``tuple[X, ...]`` or a scalar
    type. This lets a saved result be judged again, and proves the stored values are complete.
    """
    origin = typing.get_origin(kind)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        hints = typing.get_type_hints(kind)
        return kind(
            **{
                f.name: rebuild(hints[f.name], values, f"{prefix}.{f.name}" if prefix else f.name)
                for f in dataclasses.fields(kind)
                if f.init
            }
        )
    if origin in (dict, Mapping) or kind is dict:
        args = typing.get_args(kind)
        inner = args[1] if args else Value
        keys = _children(values, prefix, ".")
        return {k: rebuild(inner, values, f"{prefix}.{k}" if prefix else k) for k in keys}
    if origin in (list, tuple):
        args = typing.get_args(kind)
        inner = args[0] if args else Value
        count = len(_children(values, prefix, "["))
        items = [rebuild(inner, values, f"{prefix}[{i}]") for i in range(count)]
        return tuple(items) if origin is tuple else items
    key = prefix or "value"
    if key not in values:
        raise KeyError(f"measured value {key!r} is missing")
    value = values[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _children(values: Mapping[str, Value], prefix: str, opener: str) -> list[str]:
    """The distinct next-level keys under ``prefix`` (names after ``.``, indices in ``[]``)."""
    start = f"{prefix}{opener}" if prefix else ("" if opener == "." else "[")
    seen: dict[str, None] = {}
    for key in values:
        if not key.startswith(start):
            continue
        rest = key[len(start) :]
        if opener == "[":
            seen.setdefault(rest.split("]", 1)[0], None)
        else:
            seen.setdefault(re.split(r"[.\[]", rest, maxsplit=1)[0], None)
    return list(seen)


def measurement_type(judge: Callable[[Any], Judgement]) -> Any:
    """The type a judge takes (its first parameter's annotation)."""
    hints = typing.get_type_hints(judge)
    hints.pop("return", None)
    if not hints:
        raise TypeError(f"judge {judge.__qualname__} does not annotate its measurement")
    return next(iter(hints.values()))


def rejudge(judge: Callable[[Any], Judgement], values: Mapping[str, Value]) -> Judgement:
    """Judge stored (flattened) values again, rebuilding the judge's measurement type."""
    return judge(rebuild(measurement_type(judge), values))
