"""Request coalescing (codex 10.2): concurrent reads of one key share one fetch.

Discord's data services sit between the API and the database: when a thousand clients read
the same hot channel at once, the first read starts a query and the rest wait for its result.
:class:`Coalescer` does that on asyncio: the first caller for a key starts ``fetch`` as a task
of its own; every caller (the first included) awaits it through :func:`asyncio.shield`, so a
caller that is cancelled (a client that hung up) leaves the shared fetch running for the
others. An exception from the fetch reaches every waiter. The key is forgotten as soon as the
fetch ends, so a later read sees fresh data.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Coalescer(Generic[T]):
    def __init__(self) -> None:
        self._inflight: dict[Hashable, asyncio.Task[T]] = {}
        #: Fetches started, and reads that joined one already in flight.
        self.fetches = 0
        self.joined = 0

    async def get(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        task = self._inflight.get(key)
        if task is None:
            self.fetches += 1
            task = asyncio.ensure_future(fetch())
            self._inflight[key] = task
            task.add_done_callback(functools.partial(self._forget, key))
        else:
            self.joined += 1
        return await asyncio.shield(task)

    def _forget(self, key: Hashable, task: asyncio.Task[T]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved: no "never retrieved" warning when nobody waits

    @property
    def in_flight(self) -> int:
        return len(self._inflight)
