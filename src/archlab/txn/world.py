"""A simulated world that lets the protocol finish after the faults heal (codex 6.1).

:class:`~archlab.sim.world.World` stops when the clients are done and heals every fault. A
commit protocol still has work then: a prepared participant that could not reach its
coordinator is waiting to ask again, a saga is retrying a step. :class:`SettlingWorld` runs
``settle`` more seconds of virtual time after the heal, so that what must eventually happen
(every in-doubt transaction decided, every saga finished) has had its chance; clients start no
new operation in that time (a run cut short by ``max_time`` stops their budget). It then hands
the final state of every host to an ``audit`` function, whose answer is stored in the run's
``stats["audit"]``: the durable facts the correctness checks judge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archlab.sim.world import RunResult, World

Audit = Callable[[World], dict[str, Any]]


class SettlingWorld(World):
    """A :class:`World` that settles after the heal, then audits (see the module docstring)."""

    def __init__(self, *, settle: float = 1.0, audit: Audit | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settle = settle
        self.audit = audit

    def run(self, max_time: float | None = None, max_events: int | None = 5_000_000) -> RunResult:
        result = super().run(max_time, max_events)
        self.budget.remaining = 0  # stopped at max_time: clients finish what they started
        sim = self.sim
        sim.run(until=sim.now + self.settle, max_events=max_events)
        sim.record("settled")
        result.end_time = sim.now
        result.events_run = sim.events_run
        result.stats = self.stats()
        if self.audit is not None:
            result.stats["audit"] = self.audit(self)
        return result
