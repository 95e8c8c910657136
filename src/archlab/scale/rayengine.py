"""Seed sweeps and experiment reports as Ray tasks: ``--on ray[=ADDRESS]``.

:class:`RayWorkers` has the interface of the local process pool
(:class:`archlab.sim.sweep.Workers`): ``with RayWorkers(address, jobs) as w: w.sweep(name,
configs)`` yields one :class:`~archlab.sim.scenario.RunReport` per config, **in the order of the
configs**, as they become available, so ``archlab sim`` prints the same lines, advances the same
progress bar and collects the same failing seeds whichever engine ran them. Every run is a pure
function of its :class:`~archlab.sim.scenario.RunConfig` (the simulator's determinism contract),
so a seed's report is the same on Ray as in a local process, timings aside.

Seeds travel in batches (one task runs ``batch`` seeds), which keeps the per-task overhead of the
engine (scheduling, serialisation: milliseconds) small next to a seed's run; at most ``4 ×
CPUs`` batches are in flight, so a sweep of 100,000 seeds does not submit 100,000 tasks at once.

Without ``ADDRESS`` a local Ray is started for the sweep (``jobs`` CPUs, no dashboard) and shut
down after it; with one, the sweep joins that cluster (``ray://HOST:10001`` or ``HOST:6379``)
and uses what it offers. If the process already called ``ray.init`` (a test session), that Ray
is used and left running.

:func:`run_experiments` does the same for ``archlab report --on ray``: one task per experiment,
results returned in codex order as they finish.
"""

from __future__ import annotations

import signal
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archlab.errors import ArchlabError, ConfigError
from archlab.sim.scenario import RunConfig, RunReport, get_scenario, run_and_report

if TYPE_CHECKING:
    from archlab.lab.result import Result

EXTRA_HINT = "pip install 'archlab[scale]'"


def parse_on(text: str | None) -> str | None:
    """``--on``: None (local pool), ``"ray"`` -> ``""`` (a local Ray), ``"ray=ADDR"`` -> ADDR."""
    if text is None or text == "local":
        return None
    name, sep, address = text.partition("=")
    if name != "ray" or (sep and not address):
        raise ConfigError(f"--on {text!r}: expected ray or ray=ADDRESS")
    return address


def require_ray() -> Any:
    """The ``ray`` module, or a one-line error naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise ArchlabError(f"--on ray needs Ray, which is not installed: {EXTRA_HINT}") from None
    return ray


def _run_batch(tasks: list[tuple[str, RunConfig]]) -> list[RunReport]:
    return [run_and_report(name, config) for name, config in tasks]


class RayWorkers:
    """Ray tasks in place of the local process pool (see the module docstring)."""

    def __init__(self, address: str = "", jobs: int = 2, batch: int | None = None) -> None:
        self.address = address
        self.jobs = max(1, jobs)
        self.batch = batch
        self.cpus = self.jobs
        self._ray: Any = None
        self._started = False
        self._sigterm: Any = None

    def __enter__(self) -> RayWorkers:
        ray = self._ray = require_ray()
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "configure_logging": False,
            }
            if self.address:
                kwargs["address"] = self.address
            else:
                kwargs["num_cpus"] = self.jobs  # its workers inherit this process's environment
            # ray.init installs a SIGTERM handler of its own: put the caller's back on exit
            self._sigterm = signal.getsignal(signal.SIGTERM)
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = self.address or "a local Ray"
                raise ArchlabError(f"--on ray: cannot start or join {where}: {exc}") from None
            self._started = True
        self.cpus = max(1, int(ray.cluster_resources().get("CPU", self.jobs)))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started and self._ray is not None:
            self._ray.shutdown()
            self._started = False
            signal.signal(signal.SIGTERM, self._sigterm)

    def sweep(self, scenario: str, configs: Sequence[RunConfig]) -> Iterator[RunReport]:
        """Run every config as Ray tasks; yield the reports in the order of ``configs``."""
        get_scenario(scenario)  # fail fast on an unknown name
        ray = self._ray
        if ray is None:
            raise RuntimeError("use RayWorkers as a context manager")
        size = self.batch or max(1, min(32, len(configs) // (self.cpus * 8)))
        batches = [
            [(scenario, c) for c in configs[i : i + size]] for i in range(0, len(configs), size)
        ]
        remote = ray.remote(num_cpus=1)(_run_batch)
        window = 4 * self.cpus
        pending: dict[Any, int] = {}
        done: dict[int, list[RunReport]] = {}
        submitted = next_out = 0
        while next_out < len(batches):
            while submitted < len(batches) and len(pending) < window:
                pending[remote.remote(batches[submitted])] = submitted
                submitted += 1
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                done[pending.pop(ref)] = ray.get(ref)
            while next_out in done:
                yield from done.pop(next_out)
                next_out += 1


def run_experiments(
    experiment_ids: Sequence[str],
    profile: str,
    seed: int,
    scratch: Path,
    address: str = "",
    jobs: int | None = None,
) -> Generator[Result, None, None]:
    """``archlab report --on ray``: one Ray task per experiment; results in the given order.

    A local Ray gets ``jobs`` CPUs (default: the cores this process may use).
    """
    from archlab.sim.sweep import default_jobs

    with RayWorkers(address, jobs or default_jobs()) as workers:
        ray = workers._ray
        remote = ray.remote(num_cpus=1)(_run_experiment)
        refs = [remote.remote(e, profile, seed, str(scratch)) for e in experiment_ids]
        for ref in refs:
            result: Result = ray.get(ref)
            yield result


def _run_experiment(experiment_id: str, profile: str, seed: int, scratch: str) -> Result:
    from archlab.lab import registry, runner

    return runner.run(
        registry.get(experiment_id), profile=profile, seed=seed, scratch_root=Path(scratch)
    )
