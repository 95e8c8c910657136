"""Backend health (codex 3.1): eject after ``fall`` consecutive failures, re-admit after
``rise`` consecutive successes, as HAProxy's checks do. Sans-IO: the host reports each probe's
or each forwarded request's outcome; the tracker answers who is eligible.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass
class _State:
    up: bool = True
    failures: int = 0
    successes: int = 0


class HealthTracker:
    def __init__(self, backends: Iterable[str], fall: int = 2, rise: int = 2) -> None:
        self.fall = fall
        self.rise = rise
        self._states = {b: _State() for b in backends}

    def is_up(self, backend: str) -> bool:
        return self._states[backend].up

    def up(self) -> list[str]:
        return [b for b, s in self._states.items() if s.up]

    def record(self, backend: str, ok: bool) -> str | None:
        """Note one outcome; return ``"ejected"`` or ``"readmitted"`` when the state flips."""
        s = self._states[backend]
        if ok:
            s.failures = 0
            s.successes += 1
            if not s.up and s.successes >= self.rise:
                s.up = True
                return "readmitted"
        else:
            s.successes = 0
            s.failures += 1
            if s.up and s.failures >= self.fall:
                s.up = False
                return "ejected"
        return None
