"""Seed sweeps over local worker processes.

:func:`sweep` runs one :class:`~archlab.sim.scenario.RunConfig` per seed through
:func:`~archlab.sim.scenario.run_and_report` on ``jobs`` worker processes and yields the
reports in seed order as they become available, so a caller can print each seed's line (with
its reproduction command) and advance a progress bar. Workers are forked from the caller, so
scenarios registered by the caller exist in them too. Every run is a pure function of its
config, so which worker ran it does not matter, and a failing seed reruns identically with
its command.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator, Sequence
from typing import Any

from archlab.sim.scenario import RunConfig, RunReport, get_scenario, run_and_report


def default_jobs() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _default_sigterm() -> None:
    """Pool workers die on ``Pool.terminate``'s SIGTERM even where the parent installed a
    handler of its own (``ray.init`` does), which a forked worker would otherwise inherit and
    which could leave it waiting on the task queue for ever."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _work(task: tuple[str, RunConfig]) -> RunReport:
    return run_and_report(*task)


class Workers:
    """A pool of ``jobs`` forked worker processes (none when ``jobs == 1``).

    Create it before starting anything that runs threads (a progress bar), so the fork
    happens while the caller has one thread::

        with Workers(jobs) as workers, progress:
            for report in workers.sweep("register", configs):
                ...
    """

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = max(1, jobs)
        self._pool: Any = None

    def __enter__(self) -> Workers:
        if self.jobs > 1:
            self._pool = multiprocessing.get_context("fork").Pool(
                self.jobs, initializer=_default_sigterm
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def sweep(self, scenario: str, configs: Sequence[RunConfig]) -> Iterator[RunReport]:
        """Run every config; yield their reports in the order of ``configs``."""
        get_scenario(scenario)  # fail fast on an unknown name
        tasks = [(scenario, c) for c in configs]
        if self._pool is None or len(tasks) <= 1:
            for task in tasks:
                yield _work(task)
            return
        chunk = max(1, min(8, len(tasks) // (self.jobs * 8)))
        yield from self._pool.imap(_work, tasks, chunksize=chunk)


def sweep(scenario: str, configs: Sequence[RunConfig], jobs: int = 1) -> Iterator[RunReport]:
    """Run every config on ``jobs`` workers; yield the reports in the order of ``configs``."""
    get_scenario(scenario)  # register it before forking
    with Workers(min(jobs, len(configs))) as workers:
        yield from workers.sweep(scenario, configs)
