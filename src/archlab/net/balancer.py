"""The balancer's state (codex 3.1): a policy, health, and in-flight counts, per backend pool.

Sans-IO: the proxies report what happened (a connection opened or closed, a request failed,
a health probe answered) and ask :meth:`Balancer.pick` for the next backend. Ejected
backends are skipped; when every backend is ejected, picking still tries them (a pool that is
all "down" is more often a failed health check than a failed fleet).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from archlab.net.backends import Backend
from archlab.net.health import HealthTracker
from archlab.net.policies import Policy, make_policy
from archlab.randomness import RandomSource

log = logging.getLogger("archlab.net.balancer")


class Balancer:
    def __init__(
        self,
        backends: Sequence[Backend],
        policy: str,
        rng: RandomSource,
        fall: int = 2,
        rise: int = 2,
        **options: float,
    ) -> None:
        self.backends = {b.name: b for b in backends}
        self.policy: Policy = make_policy(policy, list(self.backends), rng, **options)
        self.health = HealthTracker(self.backends, fall=fall, rise=rise)
        self.load: dict[str, int] = dict.fromkeys(self.backends, 0)
        self.picked: dict[str, int] = dict.fromkeys(self.backends, 0)

    def pick(self, key: str, exclude: set[str] | frozenset[str] = frozenset()) -> Backend | None:
        up = self.health.is_up
        name = self.policy.choose(key, self.load, lambda b: b not in exclude and up(b))
        if name is None:  # everyone ejected: try the not-yet-tried ones anyway
            name = self.policy.choose(key, self.load, lambda b: b not in exclude)
        if name is None:
            return None
        self.picked[name] += 1
        return self.backends[name]

    def opened(self, backend: Backend) -> None:
        self.load[backend.name] += 1

    def closed(self, backend: Backend) -> None:
        self.load[backend.name] = max(0, self.load[backend.name] - 1)

    def failed(self, backend: Backend, reason: str) -> None:
        if self.health.record(backend.name, ok=False) == "ejected":
            log.warning("backend %s ejected (%s)", backend, reason)

    def succeeded(self, backend: Backend) -> None:
        if self.health.record(backend.name, ok=True) == "readmitted":
            log.warning("backend %s re-admitted", backend)
