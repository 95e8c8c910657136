"""The experiment registry: every claim of the codex archlab measures, with its judge.

A chapter package registers its claims in its ``experiments.py``::

    @experiment(
        id="streaming.sequential_io",
        section="7.1",
        title="Sequential vs random writes",
        claim="Appending to a log is much faster than writing at random offsets.",
        method="4 KiB writes to a real file, appended or at random offsets ...",
        judge=judge_sequential_io,
        profiles={"quick": {"file_mb": 64}, "full": {"file_mb": 1024}},
    )
    def sequential_io(ctx: Context) -> Outcome[dict[str, Value]]: ...

``ranges`` (optional) declares the valid range of a parameter, ``{"xid_bits": (8, 32)}``
(``None`` for an open end); ``archlab run --set`` checks every override against it before
anything runs. A parameter without a declared range gets the default one
(:func:`default_range`): numbers (and the numbers of a list) must be at least 1 for integers
and at least 0 for floats, lowered to the smallest value a profile itself uses, and finite.

``judge`` is the predicate, written next to the claim, that turns the experiment's typed
measurement (its own frozen dataclass, see :mod:`archlab.lab.judging`) into a verdict, and
``rule`` says in words what it compares, against which thresholds, and where each comes from.
:func:`discover` imports ``archlab.<package>.experiments`` for every package, so a new chapter
only has to add that module.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import pkgutil
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archlab.errors import ConfigError, UnknownNameError
from archlab.lab.result import Judgement, Outcome

if TYPE_CHECKING:
    from archlab.lab.context import Context

PROFILES = ("quick", "full")
_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_SECTION = re.compile(r"^\d+(\.\d+)*$")

ExperimentFn = Callable[["Context"], Outcome[Any]]
Judge = Callable[[Any], Judgement]
#: A parameter's valid range: (lowest, highest), either end None for open.
Range = tuple[float | None, float | None]


@dataclass(frozen=True)
class Experiment:
    """A registered claim: what is claimed, how it is measured, and how it is judged."""

    id: str
    section: str
    title: str
    claim: str
    method: str
    judge: Judge
    profiles: Mapping[str, Mapping[str, Any]]
    run: ExperimentFn
    references: tuple[str, ...] = field(default_factory=tuple)
    rule: str = ""
    ranges: Mapping[str, Range] = field(default_factory=dict)

    @property
    def chapter(self) -> int:
        return int(self.section.split(".")[0])

    @property
    def sort_key(self) -> tuple[tuple[int, ...], str]:
        return tuple(int(p) for p in self.section.split(".")), self.id

    def params(self, profile: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The parameters of ``profile``, with ``overrides`` applied and type-checked."""
        if profile not in self.profiles:
            raise UnknownNameError("profile", profile, list(self.profiles))
        params = dict(self.profiles[profile])
        for name, value in (overrides or {}).items():
            if name not in params:
                raise ConfigError(
                    f"experiment {self.id} has no parameter {name!r}; "
                    f"its parameters are {', '.join(sorted(params)) or 'none'}"
                )
            params[name] = _coerce(self.id, name, value, params[name])
            _check_range(self, name, params[name])
        return params

    def valid_range(self, name: str) -> Range:
        """The declared range of parameter ``name``, or the default one."""
        if name in self.ranges:
            return self.ranges[name]
        return default_range([p[name] for p in self.profiles.values() if name in p])


_REGISTRY: dict[str, Experiment] = {}


def experiment(
    *,
    id: str,
    section: str,
    title: str,
    claim: str,
    method: str,
    judge: Judge,
    profiles: Mapping[str, Mapping[str, Any]],
    references: Iterable[str] = (),
    rule: str = "",
    ranges: Mapping[str, Range] | None = None,
) -> Callable[[ExperimentFn], ExperimentFn]:
    """Register the decorated function as the experiment ``id`` (see the module docstring)."""
    if not _ID.match(id):
        raise ValueError(f"experiment id {id!r} must look like 'chapter.name'")
    if not _SECTION.match(section):
        raise ValueError(f"experiment {id}: section {section!r} must look like '4.2'")
    missing = [p for p in PROFILES if p not in profiles]
    if missing:
        raise ValueError(f"experiment {id}: profiles {missing} are missing")
    unknown = sorted(set(ranges or {}) - {k for p in profiles.values() for k in p})
    if unknown:
        raise ValueError(f"experiment {id}: ranges name no parameter: {', '.join(unknown)}")

    def register(fn: ExperimentFn) -> ExperimentFn:
        existing = _REGISTRY.get(id)
        if existing is not None and existing.run is not fn:
            raise ValueError(f"experiment id {id!r} is registered twice")
        _REGISTRY[id] = Experiment(
            id=id,
            section=section,
            title=title,
            claim=" ".join(claim.split()),
            method=" ".join(method.split()),
            judge=judge,
            profiles={k: dict(v) for k, v in profiles.items()},
            run=fn,
            references=tuple(references),
            rule=" ".join(rule.split()),
            ranges=dict(ranges or {}),
        )
        return fn

    return register


def discover() -> None:
    """Import every ``experiments`` module in archlab's packages, at any depth."""
    for name in chapter_modules("experiments"):
        importlib.import_module(name)


def chapter_modules(leaf: str) -> list[str]:
    """Names of every ``archlab.<package>[.<sub>...].<leaf>`` module that exists."""
    import archlab

    found = []
    for info in pkgutil.walk_packages(archlab.__path__, "archlab."):
        if info.ispkg and not info.name.startswith("archlab.lab"):
            name = f"{info.name}.{leaf}"
            if importlib.util.find_spec(name) is not None:
                found.append(name)
    return sorted(found)


def all_experiments() -> list[Experiment]:
    """Every registered experiment, in codex order."""
    discover()
    return sorted(_REGISTRY.values(), key=lambda e: e.sort_key)


def get(experiment_id: str) -> Experiment:
    discover()
    try:
        return _REGISTRY[experiment_id]
    except KeyError:
        raise UnknownNameError("experiment", experiment_id, list(_REGISTRY)) from None


def _coerce(exp_id: str, name: str, value: Any, default: Any) -> Any:
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


def default_range(profile_values: Iterable[Any]) -> Range:
    """The range of a parameter that declares none (see the module docstring)."""
    numbers = [
        float(v)
        for value in profile_values
        for v in (value if isinstance(value, list) else [value])
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    if not numbers:
        return (None, None)
    integral = all(
        isinstance(v, int) and not isinstance(v, bool)
        for value in profile_values
        for v in (value if isinstance(value, list) else [value])
    )
    lowest = min(1.0 if integral else 0.0, *numbers)
    return (lowest, None)


def _check_range(exp: Experiment, name: str, value: Any) -> None:
    """Refuse an override outside the parameter's range (one line naming both)."""
    numbers = [
        v
        for v in (value if isinstance(value, list) else [value])
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    low, high = exp.valid_range(name)
    for v in numbers:
        if not math.isfinite(v) or (low is not None and v < low) or (high is not None and v > high):
            raise ConfigError(
                f"--set {name}={_show(value)}: parameter {name} of {exp.id} must be "
                f"{describe_range((low, high))}, got {_show(v)}"
            )


def describe_range(bounds: Range) -> str:
    """``≥ 1``, ``≤ 0.5``, ``between 8 and 32`` or ``a finite number``."""
    low, high = bounds
    if low is not None and high is not None:
        return f"between {_show(low)} and {_show(high)}"
    if low is not None:
        return f"≥ {_show(low)}"
    if high is not None:
        return f"≤ {_show(high)}"
    return "a finite number"


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_show(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
