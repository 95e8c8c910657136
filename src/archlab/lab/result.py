"""What an experiment produces: tables, figures, measured values and a computed verdict.

An experiment function returns an :class:`Outcome` (what it measured). The runner turns it
into a :class:`Result` by asking the experiment's judge for a :class:`Judgement` over the
measured values, and by adding the provenance (profile, seed, parameters, wall time, versions,
CPU). A verdict is therefore always a function of numbers stored next to it, never typed in.

Results serialise to JSON (``results/<id>.json``) and load back, so a report can be rebuilt
without rerunning and two runs can be compared value by value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar, cast

from archlab.errors import InputFormatError
from archlab.lab.judging import (
    VERDICTS,
    Evidence,
    Judgement,
    Threshold,
    Value,
    Verdict,
    holds,
    nuanced,
    refuted,
)

__all__ = [
    "VERDICTS",
    "Band",
    "Cell",
    "Column",
    "Environment",
    "Evidence",
    "Figure",
    "Heatmap",
    "Judgement",
    "Outcome",
    "RefLine",
    "Result",
    "Series",
    "Table",
    "Threshold",
    "Value",
    "Verdict",
    "holds",
    "nuanced",
    "refuted",
]

#: A table cell.
Cell = float | int | str | bool | None

SCHEMA_VERSION = 1

M = TypeVar("M")


@dataclass(frozen=True)
class Column:
    """A table column: its name and the unit of its cells (empty for counts and labels)."""

    name: str
    unit: str = ""
    description: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name


@dataclass
class Table:
    """A named table of measurements; every row has one cell per column."""

    title: str
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)
    note: str = ""

    def __post_init__(self) -> None:
        for row in self.rows:
            self._check_row(row)

    def add(self, *cells: Cell) -> None:
        row = list(cells)
        self._check_row(row)
        self.rows.append(row)

    def column(self, name: str) -> list[Cell]:
        index = [c.name for c in self.columns].index(name)
        return [row[index] for row in self.rows]

    def _check_row(self, row: Sequence[Cell]) -> None:
        if len(row) != len(self.columns):
            raise ValueError(
                f"table {self.title!r}: row has {len(row)} cells for {len(self.columns)} columns"
            )


@dataclass
class Series:
    """One line (or set of points, or bars) of a figure."""

    name: str
    x: list[float] | list[str]
    y: list[float]
    #: ``bound``: a theoretical curve (log_B N, a model's prediction), drawn dotted and grey.
    style: Literal["line", "step", "scatter", "bar", "bound"] = "line"

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"series {self.name!r}: {len(self.x)} x values, {len(self.y)} y")


@dataclass
class Band:
    """A shaded span of the x axis (a fault, a stall, a phase)."""

    start: float
    end: float
    label: str = ""


@dataclass
class RefLine:
    """A horizontal reference line: a theoretical value or a published figure."""

    value: float
    label: str


@dataclass
class Heatmap:
    """A matrix of values over two categorical axes, optionally with a label per cell.

    With ``categories``, each value is the index of a category (0, 1, 2 ...) and the plot gets
    a legend naming the categories instead of a colour bar.
    """

    x_labels: list[str]
    y_labels: list[str]
    values: list[list[float]]
    cell_labels: list[list[str]] | None = None
    colorbar_label: str = ""
    categories: list[str] | None = None

    def category_names(self) -> list[str] | None:
        """``categories``, or those a colour-bar label spells as ``0 a, 1 b, 2 c``."""
        if self.categories:
            return list(self.categories)
        items = [item.strip() for item in self.colorbar_label.split(",")]
        names = []
        for index, item in enumerate(items):
            number, _, name = item.partition(" ")
            if number != str(index) or not name.strip():
                return None
            names.append(name.strip())
        whole = all(
            v is None or (math.isfinite(v) and float(v).is_integer() and 0 <= v < len(names))
            for row in self.values
            for v in row
        )
        return names if len(names) >= 2 and whole else None


@dataclass
class Figure:
    """A plot described by its data; rendered to SVG by :mod:`archlab.lab.plots`."""

    title: str
    x_label: str = ""
    y_label: str = ""
    series: list[Series] = field(default_factory=list)
    log_x: bool = False
    log_y: bool = False
    bands: list[Band] = field(default_factory=list)
    ref_lines: list[RefLine] = field(default_factory=list)
    heatmap: Heatmap | None = None
    caption: str = ""


@dataclass
class Outcome(Generic[M]):
    """What an experiment function measured; the runner adds the verdict and provenance.

    ``measured`` is the experiment's own frozen dataclass (see :mod:`archlab.lab.judging`);
    the judge receives it as it is, and the result stores it flattened under ``values``.
    """

    measured: M
    summary: str
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Environment:
    """Where and with what a result was measured."""

    archlab_version: str
    python_version: str
    cpu_model: str
    cpu_count: int
    platform: str
    started_at: str


@dataclass
class Result:
    """A finished experiment run: claim, measurements, verdict and provenance."""

    id: str
    section: str
    title: str
    claim: str
    method: str
    profile: str
    seed: int
    params: dict[str, Any]
    command: str
    environment: Environment
    wall_time_s: float
    summary: str = ""
    values: dict[str, Value] = field(default_factory=dict)
    verdict: Verdict | None = None
    reason: str = ""
    rule: str = ""
    evidence: list[dict[str, Any]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.verdict is not None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["schema"] = SCHEMA_VERSION
        return cast(dict[str, Any], _finite(data))

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save(self, directory: Path) -> Path:
        """Write ``<directory>/<id>.json`` atomically (a crash never leaves half a file)."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.id}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<result>") -> Result:
        try:
            schema = data.get("schema", SCHEMA_VERSION)
            if schema != SCHEMA_VERSION:
                raise InputFormatError(source, f"result schema {schema}, expected {SCHEMA_VERSION}")
            verdict = data.get("verdict")
            if verdict is not None and verdict not in VERDICTS:
                raise InputFormatError(source, f"verdict {verdict!r} is not one of {VERDICTS}")
            return cls(
                id=str(data["id"]),
                section=str(data["section"]),
                title=str(data["title"]),
                claim=str(data["claim"]),
                method=str(data.get("method", "")),
                profile=str(data["profile"]),
                seed=int(data["seed"]),
                params=dict(data.get("params", {})),
                command=str(data.get("command", "")),
                environment=Environment(**data["environment"]),
                wall_time_s=float(data["wall_time_s"]),
                summary=str(data.get("summary", "")),
                values=dict(data.get("values", {})),
                verdict=verdict,
                reason=str(data.get("reason", "")),
                rule=str(data.get("rule", "")),
                evidence=[dict(e) for e in data.get("evidence", [])],
                tables=[_table_from(t) for t in data.get("tables", [])],
                figures=[_figure_from(f) for f in data.get("figures", [])],
                notes=[str(n) for n in data.get("notes", [])],
                references=[str(r) for r in data.get("references", [])],
                error=data.get("error"),
            )
        except InputFormatError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise InputFormatError(source, f"not an archlab result: {what}") from None

    @classmethod
    def load(cls, path: Path) -> Result:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputFormatError(path, f"cannot read: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise InputFormatError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
        if not isinstance(data, dict):
            raise InputFormatError(path, "expected a JSON object")
        return cls.from_dict(data, source=str(path))


def _finite(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) by None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _table_from(data: Mapping[str, Any]) -> Table:
    return Table(
        title=data["title"],
        columns=[Column(**c) for c in data["columns"]],
        rows=[list(r) for r in data["rows"]],
        note=data.get("note", ""),
    )


def _figure_from(data: Mapping[str, Any]) -> Figure:
    heat = data.get("heatmap")
    return Figure(
        title=data["title"],
        x_label=data.get("x_label", ""),
        y_label=data.get("y_label", ""),
        series=[Series(**s) for s in data.get("series", [])],
        log_x=bool(data.get("log_x", False)),
        log_y=bool(data.get("log_y", False)),
        bands=[Band(**b) for b in data.get("bands", [])],
        ref_lines=[RefLine(**r) for r in data.get("ref_lines", [])],
        heatmap=Heatmap(**heat) if heat else None,
        caption=data.get("caption", ""),
    )
