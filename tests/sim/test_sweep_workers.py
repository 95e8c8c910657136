"""The local process pool of seed sweeps (`archlab.sim.sweep.Workers`): leaving a sweep early
must stop its workers whatever the caller did to SIGTERM (a regression: after a Ray sweep in
the same process, `ray.init`'s handler was inherited by the forked workers and a later sweep
hung in `Pool.terminate`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

_EARLY_EXIT = textwrap.dedent(
    """
    import signal
    from dataclasses import replace
    from archlab.sim.scenario import get_scenario
    from archlab.sim.sweep import Workers

    {handler}
    base = get_scenario("register").default_config()
    configs = [replace(base, seed=s) for s in range(64)]
    with Workers(2) as workers:
        first = next(iter(workers.sweep("register", configs)))
    print("left after seed", first.seed)
    """
)


def _leave_early(handler: str) -> subprocess.CompletedProcess[str]:
    """Runs the early exit in a process group of its own, killed whole if it hangs."""
    with subprocess.Popen(
        [sys.executable, "-c", _EARLY_EXIT.format(handler=handler)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        start_new_session=True,
    ) as child:
        try:
            out, err = child.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            pytest.fail("the sweep did not return within 120 s: its workers outlived terminate()")
        return subprocess.CompletedProcess(child.args, child.returncode, out, err)


def test_leaving_a_sweep_early_stops_its_workers() -> None:
    done = _leave_early("")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "left after seed 0" in done.stdout


def test_workers_stop_even_when_the_parent_swallows_sigterm() -> None:
    # the handler a Ray driver leaves behind does not exit a worker blocked on the task
    # queue: without the pool's own reset, this run never returns
    done = _leave_early("signal.signal(signal.SIGTERM, lambda *_: None)")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "left after seed 0" in done.stdout
