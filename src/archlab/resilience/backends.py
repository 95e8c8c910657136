"""Where a limiter's state lives: in this process, or in Redis behind one atomic script (9.3).

- :class:`MemoryBackend` keeps states in a dict and applies the rule under a lock: atomic for
  the threads of one process, the embedded default.
- :class:`RedisBackend` runs the rule as a Lua script (``EVALSHA``, loaded once, reloaded
  after a ``SCRIPT FLUSH``): atomic for every process that shares the Redis server, with the
  time read by the server.
- :class:`NaiveRedisBackend` is what the codex warns against and the experiments measure:
  read the state, decide in the client, write it back. Two clients that read between each
  other's read and write both spend the same tokens, so it over-admits under concurrency.

All three take ``now`` for tests; without it the memory backend reads ``time.time()`` and
the Redis ones let the server read its clock.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Protocol

from archlab.resilience import algorithms
from archlab.resilience.algorithms import State
from archlab.resilience.limits import Decision, Limit
from archlab.resilience.scripts import CONCURRENCY_ACQUIRE, LEASE, SCRIPTS

if TYPE_CHECKING:
    import redis
    import redis.asyncio


class Backend(Protocol):
    def decide(
        self, key: str, limit: Limit, cost: int = 1, now: float | None = None
    ) -> Decision: ...


class LeaseBackend(Protocol):
    def lease(
        self, key: str, limit: Limit, want: int, give_back: int = 0, now: float | None = None
    ) -> tuple[int, float]: ...


class MemoryBackend:
    """States in a dict, each decision made under one lock; expired keys dropped lazily."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], tuple[State, float]] = {}
        self._lock = threading.Lock()

    def decide(self, key: str, limit: Limit, cost: int = 1, now: float | None = None) -> Decision:
        when = time.time() if now is None else now
        slot = (limit.algorithm, key)
        with self._lock:
            kept = self._states.get(slot)
            state = kept[0] if kept is not None and kept[1] > when else None
            new_state, decision = algorithms.decide(limit, state, when, cost)
            self._states[slot] = (new_state, when + limit.expiry)
        return decision

    def lease(
        self, key: str, limit: Limit, want: int, give_back: int = 0, now: float | None = None
    ) -> tuple[int, float]:
        """Take up to ``want`` tokens of ``key``'s token bucket, returning ``give_back``."""
        when = time.time() if now is None else now
        slot = ("lease", key)
        with self._lock:
            kept = self._states.get(slot)
            state = kept[0] if kept is not None and kept[1] > when else None
            new_state, granted, retry = algorithms.lease(limit, state, when, want, give_back)
            self._states[slot] = (new_state, when + limit.expiry)
        return granted, retry

    def __len__(self) -> int:
        return len(self._states)


def _reply(raw: list[object]) -> Decision:
    allowed, limit, remaining, retry, reset = raw
    return Decision(
        allowed=int(str(allowed)) == 1,
        limit=int(str(limit)),
        remaining=int(str(remaining)),
        retry_after=float(_text(retry)),
        reset_after=float(_text(reset)),
    )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBackend:
    """Every decision is one ``EVALSHA`` of the algorithm's script on ``client``."""

    def __init__(self, client: redis.Redis, prefix: str = "archlab:rl:") -> None:
        self.client = client
        self.prefix = prefix
        self._scripts = {name: client.register_script(src) for name, src in SCRIPTS.items()}
        self._lease = client.register_script(LEASE)

    def keys(self, key: str, limit: Limit) -> list[str]:
        base = f"{self.prefix}{limit.algorithm}:{key}"
        return [base, f"{base}:seq"]

    def decide(self, key: str, limit: Limit, cost: int = 1, now: float | None = None) -> Decision:
        if cost < 1:
            raise ValueError(f"a request costs at least 1, got {cost}")
        args: list[str | int] = [
            limit.rate,
            repr(float(limit.period)),
            limit.burst,
            cost,
            int(limit.expiry * 1000),
            "" if now is None else repr(float(now)),
        ]
        raw = self._scripts[limit.algorithm](keys=self.keys(key, limit), args=args)
        return _reply(list(raw))

    def lease(
        self, key: str, limit: Limit, want: int, give_back: int = 0, now: float | None = None
    ) -> tuple[int, float]:
        """One atomic script: refill, take back ``give_back``, grant up to ``want`` tokens."""
        args: list[str | int] = [
            limit.rate,
            repr(float(limit.period)),
            limit.burst,
            want,
            int(limit.expiry * 1000),
            "" if now is None else repr(float(now)),
            give_back,
        ]
        granted, retry = self._lease(keys=[f"{self.prefix}lease:{key}"], args=args)
        return int(granted), float(_text(retry))


class RedisConcurrencyLimiter:
    """Stripe's concurrent-requests limiter shared by a fleet: in-flight ids in a Redis sorted set.

    :meth:`acquire` is one atomic script (drop stale entries, count, add); :meth:`release`
    removes the id. A server that crashes between the two leaves its entry behind, and the
    next acquire for that user drops it once it is ``stale_after`` seconds old.
    """

    def __init__(
        self, client: redis.Redis, limit: int, stale_after: float, prefix: str = "archlab:inflight:"
    ) -> None:
        if limit < 1 or stale_after <= 0:
            from archlab.errors import ConfigError

            raise ConfigError("concurrency limit must be ≥ 1 and stale_after > 0 s")
        self.client = client
        self.limit = limit
        self.stale_after = stale_after
        self.prefix = prefix
        self._acquire = client.register_script(CONCURRENCY_ACQUIRE)

    def acquire(self, user: str, request_id: str, now: float | None = None) -> bool:
        args: list[str | int] = [
            self.limit,
            repr(float(self.stale_after)),
            request_id,
            "" if now is None else repr(float(now)),
        ]
        return int(self._acquire(keys=[self.prefix + user], args=args)) == 1

    def release(self, user: str, request_id: str) -> None:
        self.client.zrem(self.prefix + user, request_id)


class NaiveRedisBackend:
    """Read-then-write: ``GET`` the state, decide in this process, ``SET`` it back. Racy."""

    def __init__(self, client: redis.Redis, prefix: str = "archlab:naive:") -> None:
        self.client = client
        self.prefix = prefix

    def decide(self, key: str, limit: Limit, cost: int = 1, now: float | None = None) -> Decision:
        name = f"{self.prefix}{limit.algorithm}:{key}"
        raw = self.client.get(name)
        state = tuple(float(x) for x in _text(raw).split(",")) if raw else None
        when = time.time() if now is None else now
        new_state, decision = algorithms.decide(limit, state, when, cost)
        text = ",".join(repr(x) for x in new_state)
        self.client.set(name, text, px=int(limit.expiry * 1000))
        return decision


class AsyncRedisBackend:
    """:class:`RedisBackend` for asyncio servers: the same scripts on a ``redis.asyncio`` client."""

    def __init__(self, client: redis.asyncio.Redis, prefix: str = "archlab:rl:") -> None:
        self.client = client
        self.prefix = prefix
        self._scripts = {name: client.register_script(src) for name, src in SCRIPTS.items()}

    async def adecide(
        self, key: str, limit: Limit, cost: int = 1, now: float | None = None
    ) -> Decision:
        base = f"{self.prefix}{limit.algorithm}:{key}"
        args: list[str | int] = [
            limit.rate,
            repr(float(limit.period)),
            limit.burst,
            cost,
            int(limit.expiry * 1000),
            "" if now is None else repr(float(now)),
        ]
        raw = await self._scripts[limit.algorithm](keys=[base, f"{base}:seq"], args=args)
        return _reply(list(raw))
