"""The discrete-event kernel: virtual time, a deterministic scheduler, seeded random streams.

Everything in a simulation happens inside :meth:`Simulation.run`: the kernel pops the earliest
scheduled callback, advances :attr:`Simulation.now` to its time and calls it. Ties at the same
virtual time run in the order they were scheduled (a sequence number breaks the tie), so the
order of events never depends on hashing, memory addresses or the wall clock.

Randomness comes only from :meth:`Simulation.rng`: one :class:`random.Random` per named stream
(``"network"``, ``"nemesis.crash"``, ``"node.n1"`` ...), each seeded from the simulation's seed
and the stream's name. A component drawing more numbers never shifts another component's draws,
so a change in one place leaves the rest of a failing seed's schedule intact.

Same seed and parameters, same code: byte-identical :class:`~archlab.sim.trace.Trace` and
history. This is the contract of docs/architecture.md "Determinism" (codex 5.1-5.3 and 6.1 are
tested on it).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from typing import Any, Literal

from archlab.randomness import derive_seed
from archlab.sim.trace import Trace

StopReason = Literal["idle", "time", "predicate", "budget", "stopped"]
Callback = Callable[..., object]


class Timer:
    """A cancellable scheduled callback (see :meth:`Simulation.timer`)."""

    __slots__ = ("_args", "_fn", "time")

    def __init__(self, time: float, fn: Callback, args: tuple[Any, ...]) -> None:
        self.time = time
        self._fn: Callback | None = fn
        self._args = args

    @property
    def active(self) -> bool:
        """Scheduled and neither fired nor cancelled."""
        return self._fn is not None

    def cancel(self) -> None:
        """Do not fire. Cancelling a fired or cancelled timer does nothing."""
        self._fn = None
        self._args = ()

    def _fire(self) -> None:
        fn, args = self._fn, self._args
        if fn is None:
            return
        self._fn = None
        self._args = ()
        fn(*args)


class Simulation:
    """Virtual time and the event queue of one simulated run.

    ``seed`` determines every random choice of the run through :meth:`rng`. ``trace`` receives
    the records of what happened (faults, messages, crashes ...); pass ``Trace(enabled=False)``
    where only speed matters (benchmarks).
    """

    def __init__(self, seed: int = 0, trace: Trace | None = None) -> None:
        self.seed = seed
        self.now = 0.0
        self.trace = trace if trace is not None else Trace()
        self.events_run = 0
        self._queue: list[tuple[float, int, Callback, tuple[Any, ...]]] = []
        self._seq = 0
        self._streams: dict[str, random.Random] = {}
        self._stopped = False

    # -- randomness ---------------------------------------------------------------------

    def rng(self, stream: str) -> random.Random:
        """The random stream named ``stream`` (the same object on every call with that name)."""
        found = self._streams.get(stream)
        if found is None:
            found = random.Random(derive_seed(self.seed, stream))
            self._streams[stream] = found
        return found

    # -- scheduling ---------------------------------------------------------------------

    def at(self, time: float, fn: Callback, *args: Any) -> None:
        """Call ``fn(*args)`` at virtual ``time`` (not before now)."""
        if time < self.now:
            raise ValueError(f"cannot schedule at {time} before now ({self.now})")
        self._seq += 1
        heapq.heappush(self._queue, (time, self._seq, fn, args))

    def after(self, delay: float, fn: Callback, *args: Any) -> None:
        """Call ``fn(*args)`` ``delay`` seconds of virtual time from now."""
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        self._seq += 1
        heapq.heappush(self._queue, (self.now + delay, self._seq, fn, args))

    def timer(self, delay: float, fn: Callback, *args: Any) -> Timer:
        """Like :meth:`after`, but returns a :class:`Timer` that can be cancelled."""
        timer = Timer(self.now + delay, fn, args)
        self.after(delay, timer._fire)
        return timer

    @property
    def pending(self) -> int:
        """Scheduled callbacks not yet run (cancelled timers included until their time)."""
        return len(self._queue)

    def peek(self) -> float | None:
        """The time of the next scheduled callback, or None when nothing is scheduled."""
        return self._queue[0][0] if self._queue else None

    def record(self, event: str, **fields: Any) -> None:
        """Append ``event`` with ``fields`` to the trace, stamped with the current time."""
        trace = self.trace
        if trace.enabled:
            trace.records.append((self.now, event, fields))

    def stop(self) -> None:
        """End the current :meth:`run` after the callback that calls this returns."""
        self._stopped = True

    # -- running ------------------------------------------------------------------------

    def run(
        self,
        until: float | None = None,
        stop_when: Callable[[], bool] | None = None,
        max_events: int | None = None,
    ) -> StopReason:
        """Run callbacks in time order until one of the limits is reached.

        Stops when the queue is empty (``"idle"``), before the first callback later than
        ``until`` (``"time"``; the clock is then set to ``until``), after a callback that makes
        ``stop_when()`` true (``"predicate"``), after ``max_events`` callbacks (``"budget"``),
        or after a callback called :meth:`stop` (``"stopped"``).
        """
        self._stopped = False
        if until is None and stop_when is None and max_events is None:
            return self._run_all()
        queue = self._queue
        pop = heapq.heappop
        budget = max_events if max_events is not None else -1
        limit = until if until is not None else float("inf")
        ran = 0
        try:
            while queue:
                if queue[0][0] > limit:
                    self.now = limit
                    return "time"
                time, _, fn, args = pop(queue)
                self.now = time
                fn(*args)
                ran += 1
                if self._stopped:
                    return "stopped"
                if stop_when is not None and stop_when():
                    return "predicate"
                if ran == budget:
                    return "budget"
            if until is not None:
                self.now = max(self.now, until)
            return "idle"
        finally:
            self.events_run += ran

    def _run_all(self) -> StopReason:
        queue = self._queue
        pop = heapq.heappop
        ran = 0
        try:
            while queue:
                time, _, fn, args = pop(queue)
                self.now = time
                fn(*args)
                ran += 1
                if self._stopped:
                    return "stopped"
            return "idle"
        finally:
            self.events_run += ran
