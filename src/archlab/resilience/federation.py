"""Federated rate limiting: clients lease tokens in bulk and spend them locally (codex 9.3).

A :class:`LeaseClient` sits in each process of a fleet. Instead of one call to the shared
store per request, it takes a lease of ``lease_size`` tokens from the shared token bucket
(one atomic script: :meth:`~archlab.resilience.backends.RedisBackend.lease`) and admits
requests from it locally. A timer hands back, every ``sync_period`` seconds, a lease held that
long, so tokens do not sit idle in a quiet process. When the bucket cannot fill a whole lease,
the client refuses locally until one would have refilled, so an overloaded fleet does not
turn into a storm of one-token calls.

The trade is the codex's: far fewer calls to the store, against accuracy. While tokens wait
in clients' leases, the shared bucket keeps refilling as if they were spent, so a fleet can
admit up to (clients × lease size) more than the limit in a burst; and tokens leased to an
idle client are unavailable to a busy one until the next sync.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.errors import ConfigError
from archlab.resilience.backends import LeaseBackend
from archlab.resilience.limits import Limit


@dataclass
class LeaseStats:
    decisions: int = 0
    admitted: int = 0
    store_calls: int = 0


class LeaseClient:
    """One process's view of a shared token bucket; time is passed in by the caller.

    The host calls :meth:`decide` for each request and :meth:`tick` every ``sync_period``
    (a timer): a lease older than the period is handed back, so an idle process does not sit
    on tokens a busy one needs.
    """

    def __init__(
        self,
        store: LeaseBackend,
        key: str,
        limit: Limit,
        lease_size: int,
        sync_period: float,
    ) -> None:
        if limit.algorithm != "token_bucket":
            raise ConfigError("federation: leases are taken from a token bucket limit")
        if lease_size < 1:
            raise ConfigError(f"federation: lease size must be ≥ 1, got {lease_size}")
        if sync_period <= 0:
            raise ConfigError(f"federation: sync period must be > 0 s, got {sync_period}")
        self.store = store
        self.key = key
        self.limit = limit
        self.lease_size = lease_size
        self.sync_period = sync_period
        self.tokens = 0
        self.leased_at = float("-inf")
        self.quiet_until = float("-inf")
        self.stats = LeaseStats()

    def decide(self, now: float) -> bool:
        """Admit one request at ``now`` from the local lease, taking a new one when empty."""
        self.stats.decisions += 1
        if self.tokens == 0 and now >= self.quiet_until:
            granted, retry = self.store.lease(self.key, self.limit, want=self.lease_size, now=now)
            self.stats.store_calls += 1
            self.tokens = granted
            self.leased_at = now
            self.quiet_until = now + retry
        if self.tokens > 0:
            self.tokens -= 1
            self.stats.admitted += 1
            return True
        return False

    def tick(self, now: float) -> None:
        """The sync timer: hand back a lease that has been held for a whole period."""
        if self.tokens and now - self.leased_at >= self.sync_period:
            self.store.lease(self.key, self.limit, want=0, give_back=self.tokens, now=now)
            self.stats.store_calls += 1
            self.tokens = 0

    def close(self, now: float) -> None:
        """Hand back what is left (a process shutting down cleanly)."""
        if self.tokens:
            self.store.lease(self.key, self.limit, want=0, give_back=self.tokens, now=now)
            self.stats.store_calls += 1
            self.tokens = 0
