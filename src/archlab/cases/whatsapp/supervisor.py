"""A one-for-one supervisor with restart intensity, as Erlang/OTP's (codex 10.1).

Each child is an asyncio task running a coroutine made by its *start function*. When a child
ends with an exception, the supervisor starts that child again from its start function and
touches no other child (one-for-one). A child that returns normally, or is cancelled, is not
restarted. If more than ``intensity`` restarts happen within ``period`` seconds, something
is wrong beyond a transient fault: the supervisor gives up, as OTP does: it stops every child
and itself (:attr:`Supervisor.failed` says why), leaving the decision to whoever started it.

The clock is injected (``clock``) so the intensity rule can be tested without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Coroutine, Hashable
from typing import Any

StartFunction = Callable[[], Coroutine[Any, Any, None]]


class Supervisor:
    def __init__(
        self,
        intensity: int = 5,
        period: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        on_give_up: Callable[[str], None] | None = None,
    ) -> None:
        self.intensity = intensity
        self.period = period
        self._clock = clock
        self._children: dict[Hashable, tuple[StartFunction, asyncio.Task[None]]] = {}
        self._restarts: deque[float] = deque()
        self.restarts = 0
        self.crashes: list[tuple[Hashable, str]] = []
        self.failed: str | None = None
        self._on_give_up = on_give_up

    def start_child(self, name: Hashable, start: StartFunction) -> None:
        if self.failed is not None:
            raise RuntimeError(f"the supervisor gave up: {self.failed}")
        if name in self._children:
            raise ValueError(f"a child named {name!r} is already running")
        self._launch(name, start)

    def stop_child(self, name: Hashable) -> None:
        entry = self._children.pop(name, None)
        if entry is not None:
            entry[1].cancel()

    def children(self) -> list[Hashable]:
        return list(self._children)

    async def shutdown(self) -> None:
        tasks = [task for _, task in self._children.values()]
        self._children.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _launch(self, name: Hashable, start: StartFunction) -> None:
        task = asyncio.ensure_future(start())
        self._children[name] = (start, task)
        task.add_done_callback(lambda done: self._child_ended(name, done))

    def _child_ended(self, name: Hashable, task: asyncio.Task[None]) -> None:
        entry = self._children.get(name)
        if entry is None or entry[1] is not task:
            return  # stopped on purpose, or already replaced
        if task.cancelled() or task.exception() is None:
            del self._children[name]
            return
        self.crashes.append((name, repr(task.exception())))
        now = self._clock()
        self._restarts.append(now)
        while self._restarts and self._restarts[0] < now - self.period:
            self._restarts.popleft()
        if len(self._restarts) > self.intensity:
            self._give_up(
                f"{len(self._restarts)} restarts within {self.period:g} s "
                f"(intensity {self.intensity}); last: {name!r} {task.exception()!r}"
            )
            return
        self.restarts += 1
        self._launch(name, entry[0])

    def _give_up(self, reason: str) -> None:
        self.failed = reason
        for _, task in self._children.values():
            task.cancel()
        self._children.clear()
        if self._on_give_up is not None:
            self._on_give_up(reason)
