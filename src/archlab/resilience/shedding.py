"""Stripe's concurrency limiter and two load shedders, as sans-IO decision cores (codex 9.3).

- :class:`ConcurrencyLimiter`: at most ``limit`` requests of one user in flight. Each admitted
  request is recorded with its start time and released when it ends; an entry older than
  ``stale_after`` is dropped when the user is next checked, so a server that crashed mid-request
  does not hold the user's slots for ever.
- :class:`FleetUsageShedder`: a share of the fleet's capacity is reserved for critical
  requests; other traffic is shed (503) once usage passes the rest.
- :class:`WorkerUtilizationShedder`: four classes (critical, POST, GET, test traffic) shed
  lowest first as worker utilization stays high, and readmitted as it stays low, one class at
  a time with a hold time and separate high and low watermarks (hysteresis), so the level
  does not flap with every sample.

Time and utilization are arguments; nothing here reads a clock or does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from archlab.errors import ConfigError

Priority = Literal["critical", "post", "get", "test"]
#: Highest first: the worker-utilization shedder drops from the end of this tuple.
PRIORITIES: tuple[Priority, ...] = ("critical", "post", "get", "test")


@dataclass
class ConcurrencyLimiter:
    """In-flight requests per user, with crash-safe expiry of stale entries."""

    limit: int
    stale_after: float
    in_flight: dict[str, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ConfigError(f"concurrency limit must be ≥ 1, got {self.limit}")
        if self.stale_after <= 0:
            raise ConfigError(f"stale_after must be > 0 s, got {self.stale_after}")

    def acquire(self, user: str, request_id: str, now: float) -> bool:
        mine = self.in_flight.setdefault(user, {})
        for rid in [r for r, started in mine.items() if now - started >= self.stale_after]:
            del mine[rid]
        if len(mine) >= self.limit:
            return False
        mine[request_id] = now
        return True

    def release(self, user: str, request_id: str) -> None:
        mine = self.in_flight.get(user)
        if mine is not None:
            mine.pop(request_id, None)
            if not mine:
                del self.in_flight[user]


@dataclass(frozen=True)
class FleetUsageShedder:
    """Keep ``reserved`` of ``capacity`` for critical requests."""

    capacity: int
    reserved: float = 0.2

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ConfigError(f"fleet capacity must be ≥ 1, got {self.capacity}")
        if not 0 <= self.reserved < 1:
            raise ConfigError(f"reserved share must be in [0, 1), got {self.reserved}")

    def admits(self, priority: Priority, in_use: int) -> bool:
        if priority == "critical":
            return in_use < self.capacity
        return in_use < (1 - self.reserved) * self.capacity


@dataclass
class WorkerUtilizationShedder:
    """Shed the lowest classes while utilization stays above ``high``; restore below ``low``."""

    high: float = 0.9
    low: float = 0.7
    hold: float = 1.0
    level: int = 0  # how many of the lowest classes are shed (never critical)
    changes: int = 0
    _since: float | None = None
    _direction: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.low <= self.high <= 1:
            raise ConfigError(
                f"watermarks must satisfy 0 < low ≤ high ≤ 1, got {self.low}, {self.high}"
            )
        if self.hold < 0:
            raise ConfigError(f"hold must be ≥ 0 s, got {self.hold}")

    def observe(self, utilization: float, now: float) -> None:
        """Feed one utilization sample (busy workers / workers) taken at ``now``."""
        direction = 1 if utilization > self.high else -1 if utilization < self.low else 0
        if direction != self._direction:
            self._direction, self._since = direction, now
            if direction == 0:
                return
        if direction == 0 or self._since is None or now - self._since < self.hold:
            return
        target = min(len(PRIORITIES) - 1, max(0, self.level + direction))
        if target != self.level:
            self.level = target
            self.changes += 1
        self._since = now  # one class per hold period

    def admits(self, priority: Priority) -> bool:
        return PRIORITIES.index(priority) < len(PRIORITIES) - self.level
