"""Rate-limit configurations and the decision they produce (codex 9.3).

A limit is one of five algorithms with its parameters, validated on construction: a rate of
zero, a negative window or a burst below one is a :class:`~archlab.errors.ConfigError` naming
the field. A :class:`Decision` carries what redis-cell's ``CL.THROTTLE`` returns (limited,
limit, remaining, retry after, reset after), whichever algorithm made it, so a caller can set
``Retry-After`` and ``RateLimit-*`` headers the same way for all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from archlab.errors import ConfigError

Algorithm = Literal["token_bucket", "gcra", "fixed_window", "sliding_log", "sliding_counter"]
ALGORITHMS: tuple[Algorithm, ...] = (
    "token_bucket",
    "gcra",
    "fixed_window",
    "sliding_log",
    "sliding_counter",
)


@dataclass(frozen=True)
class Limit:
    """``rate`` requests per ``period`` seconds, with bursts of up to ``burst`` requests.

    For the token bucket and GCRA, ``burst`` is the bucket's capacity (GCRA's redis-cell
    ``max_burst`` is ``burst - 1``) and requests refill at ``rate / period`` per second. The
    window algorithms admit ``rate`` requests per ``period``-second window and ignore
    ``burst`` beyond validating it.
    """

    algorithm: Algorithm
    rate: int
    period: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(
                f"rate limit: algorithm {self.algorithm!r} is not one of {', '.join(ALGORITHMS)}"
            )
        if isinstance(self.rate, bool) or not isinstance(self.rate, int) or self.rate < 1:
            raise ConfigError(f"rate limit: rate must be a whole number ≥ 1, got {self.rate!r}")
        if not math.isfinite(self.period) or self.period <= 0:
            raise ConfigError(f"rate limit: period must be > 0 seconds, got {self.period!r}")
        if isinstance(self.burst, bool) or not isinstance(self.burst, int) or self.burst < 1:
            raise ConfigError(f"rate limit: burst must be a whole number ≥ 1, got {self.burst!r}")

    @property
    def emission_interval(self) -> float:
        """Seconds between requests at the sustained rate (GCRA's T)."""
        return self.period / self.rate

    @property
    def capacity(self) -> int:
        """The most requests admitted at once from a full bucket or a fresh window."""
        return self.burst if self.algorithm in ("token_bucket", "gcra") else self.rate

    @property
    def expiry(self) -> float:
        """How long a key's state is kept: about twice the time to refill or roll over."""
        if self.algorithm in ("token_bucket", "gcra"):
            return 2 * self.burst * self.emission_interval + 1
        return 2 * self.period + 1


@dataclass(frozen=True)
class Decision:
    """One rate-limit decision, in redis-cell's terms.

    ``retry_after`` is the seconds until a request of the same cost could pass (0 when it did
    pass; -1 when it never can because it costs more than the limit); ``reset_after`` the
    seconds until the limiter is back to its full allowance.
    """

    allowed: bool
    limit: int
    remaining: int
    retry_after: float
    reset_after: float

    @property
    def limited(self) -> bool:
        return not self.allowed

    def headers(self) -> dict[str, str]:
        """The ``RateLimit-*`` headers (IETF draft) and ``Retry-After`` when limited."""
        out = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, self.remaining)),
            "RateLimit-Reset": str(math.ceil(max(0.0, self.reset_after))),
        }
        if self.limited and self.retry_after >= 0:
            out["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return out
