"""Test doubles for the ID generators: a clock the test moves by hand."""

from __future__ import annotations


class FakeClock:
    """Returns ``now`` (Unix ms); ``sleep`` advances it, so waiting generators terminate."""

    def __init__(self, now: int = 1_700_000_000_000) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int = 1) -> None:
        self.now += ms

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(1, round(seconds * 1000))
