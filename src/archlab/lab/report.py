"""The self-contained HTML report: every claim, its measurements and its computed verdict.

One file, no network: CSS and the copy-button script are inline, plots are inline SVG
(:mod:`archlab.lab.plots`). Chapters follow the codex's order. The page is built from
:class:`~archlab.lab.result.Result` objects only, so it can be rebuilt from saved JSON.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from archlab.errors import ArchlabError, InputFormatError
from archlab.lab import environment, format as fmt
from archlab.lab.chapters import chapter_title, section_title
from archlab.lab.plots import render_svg
from archlab.lab.result import Result

STATUSES = ("holds", "nuanced", "refuted", "error")


def status(result: Result) -> str:
    return result.verdict if result.ok and result.verdict else "error"


def load_results(directory: Path) -> list[Result]:
    """Every ``*.json`` result in ``directory``, in codex order."""
    if not directory.is_dir():
        raise InputFormatError(directory, "no such results directory")
    results = [Result.load(p) for p in sorted(directory.glob("*.json"))]
    if not results:
        raise InputFormatError(directory, "holds no result files (*.json)")
    return sorted(results, key=_order)


def render(results: Sequence[Result], profile: str | None = None) -> str:
    """The report for ``results`` as one HTML string."""
    if not results:
        raise ArchlabError("no results to report")
    ordered = sorted(results, key=_order)
    views = [_view(r) for r in ordered]
    chapters: dict[int, list[dict[str, Any]]] = {}
    for view in views:
        chapters.setdefault(view["chapter"], []).append(view)
    counts = Counter(v["status"] for v in views)
    template = _environment().get_template("report.html.j2")
    return template.render(
        results=views,
        chapters=[
            {"number": n, "title": chapter_title(n), "results": rs}
            for n, rs in sorted(chapters.items())
        ],
        counts=[(s, counts[s]) for s in STATUSES if counts[s]],
        profile=profile or _common_profile(ordered),
        generated=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        env=environment.current(),
    )


def write(results: Sequence[Result], path: Path, profile: str | None = None) -> Path:
    """Render and write the report atomically; return its path."""
    html = render(results, profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class _Cell:
    text: str
    align: str


def _view(r: Result) -> dict[str, Any]:
    anchor = r.id.replace(".", "-")
    return {
        "anchor": anchor,
        "id": r.id,
        "section": r.section,
        "section_title": section_title(r.section),
        "chapter": int(r.section.split(".")[0]),
        "title": r.title,
        "claim": fmt.prose(r.claim),
        "method": fmt.prose(r.method),
        "status": status(r),
        "summary": fmt.prose(r.summary) if r.summary else (f"failed: {r.error}" if r.error else ""),
        "reason": fmt.prose(r.reason),
        "error": r.error,
        "measured": [(k, fmt.number(v)) for k, v in r.values.items()],
        "evidence": [
            {
                **e,
                "name": fmt.prose(str(e.get("name", ""))),
                "value": fmt.number(e.get("value")) + _unit(str(e.get("unit", ""))),
                "comparison": fmt.prose(str(e.get("comparison", ""))),
                "source": fmt.prose(str(e.get("source", ""))),
            }
            for e in r.evidence
        ],
        "rule": fmt.prose(r.rule),
        "params": [(k, _param(v)) for k, v in r.params.items()],
        "profile": r.profile,
        "seed": r.seed,
        "tables": [_table_view(t) for t in r.tables],
        "figures": [
            {"svg": render_svg(f, id_prefix=f"{anchor}-{i}-"), "caption": fmt.prose(f.caption)}
            for i, f in enumerate(r.figures)
        ],
        "notes": [n if "\n" in n else fmt.prose(n) for n in r.notes],
        "references": r.references,
        "command": r.command,
        "wall_time": fmt.duration(r.wall_time_s),
        "env": r.environment,
    }


def _table_view(table: Any) -> dict[str, Any]:
    numeric = [
        bool(table.rows) and all(fmt.is_numeric(row[i]) or row[i] is None for row in table.rows)
        for i in range(len(table.columns))
    ]
    notes = [fmt.prose(table.note)] if table.note else []
    notes += fmt.percent_notes(
        [c.label for c in table.columns], [c.unit for c in table.columns], table.rows
    )
    return {
        "title": table.title,
        "notes": notes,
        "wide": len(table.columns) > 6,
        "columns": [
            {"label": c.label, "description": c.description, "align": "num" if numeric[i] else ""}
            for i, c in enumerate(table.columns)
        ],
        "rows": [
            [_Cell(_cell_text(cell), "num" if numeric[i] else "") for i, cell in enumerate(row)]
            for row in table.rows
        ],
    }


def _cell_text(cell: Any) -> str:
    return fmt.prose(cell) if isinstance(cell, str) else fmt.number(cell)


def _unit(unit: str) -> str:
    if not unit:
        return ""
    return unit if unit in {"x", "%"} else f" {unit}"


def _param(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _order(r: Result) -> tuple[tuple[int, ...], str]:
    return tuple(int(p) for p in r.section.split(".")), r.id


def _common_profile(results: Iterable[Result]) -> str:
    profiles = sorted({r.profile for r in results})
    return profiles[0] if len(profiles) == 1 else "mixed"


_URL = re.compile(r"https?://[^\s)<>\]]+[^\s)<>\].,;:]")


def linkify(text: str) -> markupsafe.Markup:
    """``text`` escaped, with every http(s) address made a link to the source itself."""
    out, last = [], 0
    for match in _URL.finditer(text):
        out.append(markupsafe.escape(text[last : match.start()]))
        url = markupsafe.escape(match.group(0))
        out.append(markupsafe.Markup(f'<a href="{url}" rel="noreferrer">{url}</a>'))
        last = match.end()
    out.append(markupsafe.escape(text[last:]))
    return markupsafe.Markup("").join(out)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("archlab.lab", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["linkify"] = linkify
    return env
