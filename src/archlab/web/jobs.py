"""Experiment runs started from the dashboard, one at a time, with progress for the page.

A :class:`Job` runs :func:`archlab.lab.runner.run` in a worker thread (measurements are not
shared with another job: :class:`JobRunner` runs one at a time and queues the rest) and
records what the page streams over server-sent events: progress of each task the experiment
reports through :class:`~archlab.lab.progress.Progress`, then the verdict. The result is saved
through the :class:`~archlab.web.store.ResultStore`, where the CLI sees it too.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from archlab.errors import ArchlabError
from archlab.lab import registry, runner
from archlab.lab.progress import Task
from archlab.web.store import ResultStore


@dataclass
class Job:
    """One requested run and what happened to it so far."""

    id: str
    experiment: str
    profile: str
    seed: int
    overrides: dict[str, str]
    state: str = "queued"  # queued, running, done, failed
    events: list[dict[str, Any]] = field(default_factory=list)
    result_path: str = ""
    verdict: str = ""

    def emit(self, kind: str, **data: Any) -> None:
        self.events.append({"kind": kind, "t": round(time.monotonic(), 3), **data})


class _JobTask:
    def __init__(self, job: Job, description: str, total: float | None) -> None:
        self.job = job
        self.description = description
        self.total = total
        self.completed = 0.0
        self._last = 0.0

    def advance(self, amount: float = 1) -> None:
        self.completed += amount
        self._report()

    def update(
        self,
        *,
        completed: float | None = None,
        total: float | None = None,
        description: str | None = None,
    ) -> None:
        if completed is not None:
            self.completed = completed
        if total is not None:
            self.total = total
        if description is not None:
            self.description = description
        self._report()

    def _report(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last > 0.1:
            self._last = now
            self.job.emit(
                "progress",
                task=self.description,
                completed=self.completed,
                total=self.total,
            )

    def __enter__(self) -> _JobTask:
        self._report(force=True)
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._report(force=True)


class JobProgress:
    """The :class:`~archlab.lab.progress.Progress` of a job: events for the page."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def task(self, description: str, total: float | None = None) -> Task:
        return _JobTask(self.job, description, total)


class JobRunner:
    """Starts jobs and keeps the last few (see the module docstring)."""

    def __init__(self, store: ResultStore, scratch: Any = None, keep: int = 50) -> None:
        self.store = store
        self.scratch = scratch
        self.keep = keep
        self.jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def submit(
        self, experiment_id: str, profile: str, seed: int, overrides: Mapping[str, str]
    ) -> Job:
        """Check the request now (bad input raises); run it in the background."""
        exp = registry.get(experiment_id)
        exp.params(profile, overrides)
        job = Job(f"j{next(self._ids)}", exp.id, profile, seed, dict(overrides))
        job.emit("queued", experiment=exp.id)
        self.jobs[job.id] = job
        for old in list(self.jobs)[: -self.keep]:
            del self.jobs[old]
        threading.Thread(target=self._run, args=(job,), daemon=True, name=job.id).start()
        return job

    def _run(self, job: Job) -> None:
        with self._lock:
            job.state = "running"
            job.emit("running")
            try:
                result = runner.run(
                    registry.get(job.experiment),
                    profile=job.profile,
                    seed=job.seed,
                    overrides=job.overrides,
                    progress=JobProgress(job),
                    scratch_root=self.scratch,
                )
                job.result_path = self.store.save(result)
            except (ArchlabError, OSError) as exc:  # bad parameters, a results dir not writable
                job.state = "failed"
                job.emit("done", state="failed", verdict="error", error=str(exc))
                return
            job.verdict = result.verdict if result.ok and result.verdict else "error"
            job.state = "done"
            job.emit(
                "done",
                state="done",
                verdict=job.verdict,
                summary=result.summary or result.error or "",
                seconds=result.wall_time_s,
                path=job.result_path,
            )
