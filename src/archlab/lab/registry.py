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
anything runs. A parameter without a declared range must be positive (or at least the smallest
value a profile itself uses, when that is zero or less): see :mod:`archlab.lab.params`.

``judge`` is the predicate, written next to the claim, that turns the experiment's typed
measurement (its own frozen dataclass, see :mod:`archlab.lab.judging`) into a verdict, and
``rule`` says in words what it compares, against which thresholds, and where each comes from.
:func:`discover` imports ``archlab.<package>.experiments`` for every package, so a new chapter
only has to add that module.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archlab.errors import ConfigError, UnknownNameError
from archlab.lab.params import ParamRange, Range, declared, default_range, override
from archlab.lab.result import Judgement, Outcome

if TYPE_CHECKING:
    from archlab.lab.context import Context

PROFILES = ("quick", "full")
_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_SECTION = re.compile(r"^\d+(\.\d+)*$")

ExperimentFn = Callable[["Context"], Outcome[Any]]
Judge = Callable[[Any], Judgement]


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
            params[name] = override(self.id, params, name, value, self.valid_range(name))
        return params

    def valid_range(self, name: str) -> ParamRange:
        """The declared range of parameter ``name``, or the default one."""
        if name in self.ranges:
            return declared(self.ranges[name])
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
