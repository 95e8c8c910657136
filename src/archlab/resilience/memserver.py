"""The in-memory limiter served to other processes over a socket, when no Redis is installed.

``make report`` must run on a machine with only Python, so the atomicity experiment falls back
to this: one server process holding a :class:`~archlab.resilience.backends.MemoryBackend`,
reached by every load process through :mod:`multiprocessing.managers` (one connection and one
server thread per client thread). ``decide`` is one round trip applied under the backend's
lock, the in-memory twin of the Redis script; ``get`` and ``set`` are the two round trips the
naive limiter makes, with its decision in between, so the same race is there to be measured.
"""

from __future__ import annotations

import threading
from multiprocessing.managers import BaseManager
from typing import Any

from archlab.resilience.backends import MemoryBackend
from archlab.resilience.limits import Algorithm, Limit


class SharedStore:
    """What the server process holds: the atomic backend and a plain key-value map."""

    def __init__(self) -> None:
        self.backend = MemoryBackend()
        self.raw: dict[str, str] = {}
        self._lock = threading.Lock()

    def decide(
        self, key: str, algorithm: Algorithm, rate: int, period: float, burst: int, cost: int
    ) -> bool:
        return self.backend.decide(key, Limit(algorithm, rate, period, burst), cost).allowed

    def get(self, key: str) -> str | None:
        with self._lock:
            return self.raw.get(key)

    def set(self, key: str, value: str) -> None:
        with self._lock:
            self.raw[key] = value


_STORE: SharedStore | None = None


def _store() -> SharedStore:
    global _STORE  # noqa: PLW0603 - one store per server process, created on first use
    if _STORE is None:
        _STORE = SharedStore()
    return _STORE


class StoreManager(BaseManager):
    """Serves the process's :class:`SharedStore` as ``manager.store()``."""


StoreManager.register("store", callable=_store)


def connect(address: Any, authkey: bytes) -> Any:
    """A proxy to the store served at ``address`` (each thread gets its own connection)."""
    manager = StoreManager(address=address, authkey=authkey)
    manager.connect()
    return manager.store()  # type: ignore[attr-defined]
