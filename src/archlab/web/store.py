"""The dashboard's view of ``results/``: the same JSON files ``archlab run`` writes.

``results/<id>.json`` is the last run of each claim, for the CLI (``archlab report
--from-results``) and the dashboard alike. So that two runs of one claim can be compared,
the dashboard also keeps every run it starts under ``results/runs/<id>/<stamp>.json``; the
report's loader reads only the top level, so these copies never enter a report twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archlab.errors import ArchlabError, InputFormatError
from archlab.lab.result import Result

_STAMP = re.compile(r"[^0-9A-Za-z]+")


@dataclass(frozen=True)
class StoredRun:
    """One saved run: its path under the results directory and what it says."""

    path: str
    profile: str
    seed: int
    verdict: str
    started_at: str


class ResultStore:
    """Reads and writes results under ``directory`` (see the module docstring)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def latest(self) -> dict[str, Result]:
        """The last result of every claim that has one (unreadable files are skipped)."""
        found: dict[str, Result] = {}
        if not self.directory.is_dir():
            return found
        for path in sorted(self.directory.glob("*.json")):
            try:
                result = Result.load(path)
            except InputFormatError:
                continue
            found[result.id] = result
        return found

    def save(self, result: Result) -> str:
        """Save as the claim's last result and archive a copy; return the copy's path."""
        result.save(self.directory)
        stamp = _STAMP.sub("", result.environment.started_at)[:15] or "run"
        archive = self.directory / "runs" / result.id
        name = f"{stamp}-{result.profile}-seed{result.seed}"
        n = 1
        while (archive / f"{name}.json").exists():
            n += 1
            name = f"{stamp}-{result.profile}-seed{result.seed}-{n}"
        archive.mkdir(parents=True, exist_ok=True)
        path = archive / f"{name}.json"
        path.write_text(result.to_json(), encoding="utf-8")
        return self.relative(path)

    def runs(self, experiment_id: str) -> list[StoredRun]:
        """Every run of ``experiment_id`` there is: the last one, then the archive, newest first."""
        paths = []
        if (self.directory / f"{experiment_id}.json").is_file():
            paths.append(self.directory / f"{experiment_id}.json")
        archive = self.directory / "runs" / experiment_id
        if archive.is_dir():
            paths += sorted(archive.glob("*.json"), reverse=True)
        runs = []
        for path in paths:
            try:
                r = Result.load(path)
            except InputFormatError:
                continue
            verdict = r.verdict if r.ok and r.verdict else "error"
            runs.append(
                StoredRun(self.relative(path), r.profile, r.seed, verdict, r.environment.started_at)
            )
        return runs

    def load(self, relative: str) -> Result:
        """The result at ``relative`` (a path this store handed out; nothing outside it)."""
        root = self.directory.resolve()
        path = (root / relative).resolve()
        if root not in path.parents or path.suffix != ".json":
            raise ArchlabError(f"{relative!r} is not a result file of {self.directory}")
        return Result.load(path)

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.directory.resolve()).as_posix()


def compare(before: Result, after: Result) -> list[dict[str, Any]]:
    """Value by value: before, after and their ratio where both are non-zero numbers."""
    rows = []
    for key in sorted(set(before.values) | set(after.values)):
        a, b = before.values.get(key), after.values.get(key)
        ratio = None
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
        if numbers and a:
            ratio = float(b) / float(a)  # type: ignore[arg-type]
        rows.append({"value": key, "before": a, "after": b, "ratio": ratio})
    return rows
