"""Progress reporting: a rich progress bar in a terminal, silence everywhere else.

Long work (an experiment, a seed sweep, a benchmark) asks its :class:`Progress` for a task and
advances it. Under ``--json``, or when stderr is not a terminal, the same calls do nothing, so
library code never checks where it runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sized
from types import TracebackType
from typing import Protocol, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress as RichProgressBar,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")


class Task(Protocol):
    def advance(self, amount: float = 1) -> None: ...

    def update(
        self,
        *,
        completed: float | None = None,
        total: float | None = None,
        description: str | None = None,
    ) -> None: ...

    def __enter__(self) -> Task: ...

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class Progress(Protocol):
    def task(self, description: str, total: float | None = None) -> Task: ...


def track(
    progress: Progress, items: Iterable[T], description: str, total: int | None = None
) -> Iterator[T]:
    """Iterate ``items`` while advancing a task of ``progress``."""
    if total is None and isinstance(items, Sized):
        total = len(items)
    with progress.task(description, total) as task:
        for item in items:
            yield item
            task.advance()


class _NullTask:
    def advance(self, amount: float = 1) -> None:
        pass

    def update(
        self,
        *,
        completed: float | None = None,
        total: float | None = None,
        description: str | None = None,
    ) -> None:
        pass

    def __enter__(self) -> _NullTask:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        pass


class NullProgress:
    """Reports nothing."""

    def task(self, description: str, total: float | None = None) -> Task:
        return _NullTask()

    def __enter__(self) -> NullProgress:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        pass


class _RichTask:
    def __init__(self, bar: RichProgressBar, task_id: TaskID, transient: bool) -> None:
        self._bar = bar
        self._id = task_id
        self._transient = transient

    def advance(self, amount: float = 1) -> None:
        self._bar.advance(self._id, amount)

    def update(
        self,
        *,
        completed: float | None = None,
        total: float | None = None,
        description: str | None = None,
    ) -> None:
        self._bar.update(self._id, completed=completed, total=total, description=description)

    def __enter__(self) -> _RichTask:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._transient:
            self._bar.remove_task(self._id)


class RichProgress:
    """A live rich progress display on stderr; nested tasks disappear when they finish."""

    def __init__(self, console: Console | None = None) -> None:
        self._bar = RichProgressBar(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=True,
        )

    def task(self, description: str, total: float | None = None) -> Task:
        task_id = self._bar.add_task(description, total=total)
        return _RichTask(self._bar, task_id, transient=True)

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._bar.stop()


def for_terminal(quiet: bool = False) -> RichProgress | NullProgress:
    """A rich progress bar when stderr is a terminal and output is not machine-readable."""
    if quiet or not sys.stderr.isatty():
        return NullProgress()
    return RichProgress()
