"""The five rate-limit decision rules as pure functions: state and time in, state and decision out.

This module is the one place each rule is written in Python; the in-memory backend calls it
under a lock, the naive read-then-write limiter calls it between a read and a write (which is
why that one over-admits), and the Redis scripts in :mod:`archlab.resilience.scripts` repeat
it line for line in Lua, in the same order of floating-point operations, so that both
backends give bit-identical decisions for the same times (a test checks this on a real
``redis-server``). Time is an argument, in seconds; nothing here reads a clock.

- **Token bucket**: ``burst`` tokens, refilled at ``rate / period`` a second; a request takes
  ``cost`` tokens or is refused.
- **GCRA** (generic cell rate algorithm, redis-cell's semantics): one stored number, the
  theoretical arrival time (TAT); a request is admitted if it would not arrive more than
  ``τ = T · burst`` ahead of schedule, ``T = period / rate``.
- **Fixed window**: ``rate`` requests per aligned ``period``-second window.
- **Sliding-window log**: every admitted request's time, kept for ``period`` seconds.
- **Sliding-window counter**: the current window's count plus the previous window's, weighted
  by how much of it still overlaps the sliding window (Cloudflare's approximation).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from archlab.resilience.limits import Decision, Limit

#: A limiter's stored state: a few numbers (the sliding log: the admitted times).
State = tuple[float, ...]
Rule = Callable[[Limit, State | None, float, int], tuple[State, Decision]]


def token_bucket(
    limit: Limit, state: State | None, now: float, cost: int
) -> tuple[State, Decision]:
    capacity = float(limit.burst)
    per_second = limit.rate / limit.period
    if state is None:
        tokens, last = capacity, now
    else:
        tokens, last = state
        tokens = min(capacity, tokens + max(0.0, now - last) * per_second)
    allowed = cost <= tokens
    if allowed:
        tokens = tokens - cost
    if allowed:
        retry_after = 0.0
    elif cost > capacity:
        retry_after = -1.0
    else:
        retry_after = (cost - tokens) / per_second
    reset_after = (capacity - tokens) / per_second
    decision = Decision(allowed, limit.burst, math.floor(tokens), retry_after, reset_after)
    return (tokens, now), decision


def gcra(limit: Limit, state: State | None, now: float, cost: int) -> tuple[State, Decision]:
    interval = limit.period / limit.rate
    tolerance = interval * limit.burst
    increment = interval * cost
    tat = now if state is None else max(state[0], now)
    new_tat = tat + increment
    allow_at = new_tat - tolerance
    diff = now - allow_at
    if diff < 0:
        retry_after = -diff if increment <= tolerance else -1.0
        ttl = tat - now
        stored = tat
        allowed = False
    else:
        retry_after = 0.0
        ttl = new_tat - now
        stored = new_tat
        allowed = True
    left = tolerance - ttl
    remaining = math.floor(left / interval) if left > -interval else 0
    decision = Decision(allowed, limit.burst, max(0, remaining), retry_after, ttl)
    return (stored,), decision


def fixed_window(
    limit: Limit, state: State | None, now: float, cost: int
) -> tuple[State, Decision]:
    start = math.floor(now / limit.period) * limit.period
    count = 0.0 if state is None or state[0] != start else state[1]
    allowed = count + cost <= limit.rate
    if allowed:
        count = count + cost
    ends_in = start + limit.period - now
    if allowed:
        retry_after = 0.0
    elif cost > limit.rate:
        retry_after = -1.0
    else:
        retry_after = ends_in
    decision = Decision(allowed, limit.rate, limit.rate - int(count), retry_after, ends_in)
    return (start, count), decision


def sliding_log(limit: Limit, state: State | None, now: float, cost: int) -> tuple[State, Decision]:
    horizon = now - limit.period
    times = [t for t in (state or ()) if t > horizon]
    allowed = len(times) + cost <= limit.rate
    if allowed:
        times.extend([now] * cost)
    if allowed:
        retry_after = 0.0
    elif cost > limit.rate:
        retry_after = -1.0
    else:
        # The request fits once enough of the oldest entries have left the window.
        retry_after = times[len(times) + cost - limit.rate - 1] + limit.period - now
    reset_after = times[-1] + limit.period - now if times else 0.0
    decision = Decision(allowed, limit.rate, limit.rate - len(times), retry_after, reset_after)
    return tuple(times), decision


def sliding_counter(
    limit: Limit, state: State | None, now: float, cost: int
) -> tuple[State, Decision]:
    start = math.floor(now / limit.period) * limit.period
    if state is None or state[0] < start - limit.period:
        current, previous = 0.0, 0.0
    elif state[0] == start:
        current, previous = state[1], state[2]
    else:  # the stored window is the one just before this one
        current, previous = 0.0, state[1]
    weight = 1.0 - (now - start) / limit.period
    estimate = previous * weight + current
    allowed = estimate + cost <= limit.rate
    if allowed:
        current = current + cost
        estimate = estimate + cost
    room = limit.rate - cost - current
    if allowed:
        retry_after = 0.0
    elif cost > limit.rate:
        retry_after = -1.0
    elif room >= 0 and previous > 0:
        # The previous window's weight falls linearly until the estimate leaves room.
        retry_after = start + limit.period * (1.0 - room / previous) - now
    else:
        retry_after = start + limit.period - now
    reset_after = start + (2 * limit.period if current > 0 else limit.period) - now
    remaining = max(0, math.floor(limit.rate - estimate))
    decision = Decision(allowed, limit.rate, remaining, retry_after, reset_after)
    return (start, current, previous), decision


def lease(
    limit: Limit, state: State | None, now: float, want: int, give_back: int
) -> tuple[State, int, float]:
    """Federation: hand a client up to ``want`` tokens from a token bucket at once.

    Unused tokens a client returns (``give_back``) go back in, up to the capacity. Returns the
    new state, the tokens granted and, when fewer than wanted, the seconds until ``want`` would
    have refilled.
    The bucket keeps refilling while leased tokens wait in clients, which is where federation's
    over-admission comes from: at most the tokens out on lease.
    """
    capacity = float(limit.burst)
    per_second = limit.rate / limit.period
    if state is None:
        tokens = capacity
    else:
        tokens = min(capacity, state[0] + max(0.0, now - state[1]) * per_second)
    tokens = min(capacity, tokens + give_back)
    granted = min(want, math.floor(tokens))
    tokens = tokens - granted
    # When the lease is short, the time until a whole one has refilled: asking sooner would
    # only fetch a token or two per call.
    retry_after = 0.0 if granted >= want else (want - tokens) / per_second
    return (tokens, now), granted, retry_after


RULES: dict[str, Rule] = {
    "token_bucket": token_bucket,
    "gcra": gcra,
    "fixed_window": fixed_window,
    "sliding_log": sliding_log,
    "sliding_counter": sliding_counter,
}


def decide(limit: Limit, state: State | None, now: float, cost: int = 1) -> tuple[State, Decision]:
    """Apply ``limit``'s rule to ``state`` at time ``now`` for a request of ``cost``."""
    if cost < 1:
        raise ValueError(f"a request costs at least 1, got {cost}")
    return RULES[limit.algorithm](limit, state, now, cost)
