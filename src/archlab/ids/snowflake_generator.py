"""The Snowflake generator (codex 6.2): :class:`~archlab.ids.snowflake.SnowflakeSequencer`
driven by a real (or injected) clock, with a lock and the waiting policies.

On sequence exhaustion it waits for the next millisecond. When the clock reads earlier than the
last timestamp used it either refuses (raises :class:`ClockMovedBackwardsError`, the default)
or waits until the clock passes that timestamp, for at most ``max_backwards_wait_ms``. Either
way it never issues a duplicate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

from archlab.ids.entropy import Clock, system_clock_ms
from archlab.ids.errors import ClockMovedBackwardsError, InvalidIdError
from archlab.ids.snowflake import (
    TWITTER,
    SnowflakeLayout,
    SnowflakeParts,
    SnowflakeSequencer,
    parse_snowflake,
)

BackwardsPolicy = Literal["refuse", "wait"]


class SnowflakeGenerator:
    """Snowflake IDs from a clock, for one machine id; thread-safe (module doc)."""

    def __init__(
        self,
        machine: int | None = None,
        *,
        datacenter: int | None = None,
        worker: int | None = None,
        layout: SnowflakeLayout = TWITTER,
        clock: Clock | None = None,
        on_backwards: BackwardsPolicy = "refuse",
        max_backwards_wait_ms: int = 5_000,
        sleep: Callable[[float], None] = time.sleep,
        floor_ms: int = -1,
    ) -> None:
        if (machine is None) == (datacenter is None and worker is None):
            raise InvalidIdError("give either a machine id or a datacenter and a worker")
        if machine is None:
            if datacenter is None or worker is None:
                raise InvalidIdError("give both datacenter and worker")
            machine = layout.machine_id(datacenter, worker)
        if on_backwards not in ("refuse", "wait"):
            raise InvalidIdError(f"on_backwards must be 'refuse' or 'wait', not {on_backwards!r}")
        self._core = SnowflakeSequencer(machine, layout, floor_ms)
        self.layout = layout
        self.machine = machine
        self.on_backwards = on_backwards
        self.max_backwards_wait_ms = max_backwards_wait_ms
        self._clock = clock or system_clock_ms
        self._sleep = sleep
        self._lock = threading.Lock()

    def new(self) -> int:
        clock, issue = self._clock, self._core.issue
        with self._lock:
            waited_backwards = 0
            while True:
                now = clock()
                try:
                    value = issue(now)
                except ClockMovedBackwardsError as exc:
                    behind = exc.last_ms - exc.now_ms
                    if self.on_backwards == "refuse" or waited_backwards >= (
                        self.max_backwards_wait_ms
                    ):
                        raise
                    self._sleep(behind / 1000)
                    waited_backwards += behind
                    continue
                if value is not None:
                    return value
                # 4096 IDs in this millisecond already: spin until the clock moves on.
                self._sleep(0)

    def new_str(self) -> str:
        return str(self.new())

    def parse(self, value: int | str) -> SnowflakeParts:
        return parse_snowflake(value, self.layout)
