"""Clocks and randomness for the ID generators (codex 6.2), injectable for tests and simulation.

Every generator takes a ``clock`` (a zero-argument callable returning Unix milliseconds) and an
``entropy`` (an :class:`Entropy`). The defaults are the real ones: :func:`system_clock_ms` and
:class:`SystemEntropy`, a pool over the kernel's CSPRNG (``os.urandom``).

Why a pool: one ``getrandom`` system call costs about as much as generating a whole ULID, so the
pool reads 4 KiB at a time and hands out fixed-size slices through a C-level iterator. Under the
GIL, ``next()`` on that iterator is atomic, so two threads never receive the same slice and no
lock is needed; a thread that finds the iterator exhausted refills it with a fresh read (two
threads refilling at once each take from their own fresh buffer, so still no slice is shared).
A forked child would inherit the parent's unread bytes and produce the parent's next IDs, so
every pool is emptied in the child by an ``os.register_at_fork`` hook.

:class:`SeededEntropy` draws from a seeded :class:`random.Random`: deterministic, for tests and
experiments, never for real IDs.
"""

from __future__ import annotations

import os
import random
import struct
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Protocol

#: A clock: the current time in Unix milliseconds.
Clock = Callable[[], int]
#: A source of ``n`` random bytes per call, for a fixed ``n``.
ByteSource = Callable[[], bytes]

_POOL_BYTES = 4096


def system_clock_ms() -> int:
    """The wall clock in Unix milliseconds (what every generator uses unless told otherwise)."""
    return time.time_ns() // 1_000_000


class Entropy(Protocol):
    """Where generators get their random bits from."""

    def source(self, nbytes: int) -> ByteSource:
        """A fast zero-argument callable returning ``nbytes`` fresh random bytes per call."""
        ...


class _Pool:
    """Fixed-size slices of one ``os.urandom`` read, handed out atomically (see module doc)."""

    __slots__ = ("__weakref__", "items", "size", "unpack")

    def __init__(self, size: int) -> None:
        self.size = size
        self.unpack = struct.Struct(f"{size}s").iter_unpack
        self.items: Iterator[tuple[bytes]] = iter(())

    def refill(self) -> bytes:
        items: Iterator[tuple[bytes]] = self.unpack(
            os.urandom(self.size * max(1, _POOL_BYTES // self.size))
        )
        self.items = items
        return next(items)[0]

    def take(self) -> bytes:
        try:
            return next(self.items)[0]
        except StopIteration:
            return self.refill()


_LIVE_POOLS: weakref.WeakSet[_Pool] = weakref.WeakSet()


def _forget_inherited_bytes() -> None:
    for pool in list(_LIVE_POOLS):
        pool.items = iter(())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited_bytes)


class SystemEntropy:
    """The kernel's CSPRNG, read in 4 KiB pools; thread-safe and fork-safe."""

    def __init__(self) -> None:
        self._pools: dict[int, _Pool] = {}

    def source(self, nbytes: int) -> ByteSource:
        if nbytes <= 0:
            raise ValueError(f"nbytes must be positive, got {nbytes}")
        pool = self._pools.get(nbytes)
        if pool is None:
            pool = self._pools[nbytes] = _Pool(nbytes)
            _LIVE_POOLS.add(pool)
        return pool.take


class SeededEntropy:
    """Deterministic bytes from a seeded :class:`random.Random` (tests and experiments only)."""

    def __init__(self, seed: int | random.Random = 0) -> None:
        self.rng = seed if isinstance(seed, random.Random) else random.Random(seed)

    def source(self, nbytes: int) -> ByteSource:
        randbytes = self.rng.randbytes
        return lambda: randbytes(nbytes)


class FixedEntropy:
    """Replays the given byte strings in order, then repeats the last (tests of exact values)."""

    def __init__(self, *chunks: bytes) -> None:
        if not chunks:
            raise ValueError("FixedEntropy needs at least one chunk")
        self.chunks = list(chunks)
        self.used = 0

    def source(self, nbytes: int) -> ByteSource:
        def take() -> bytes:
            chunk = self.chunks[min(self.used, len(self.chunks) - 1)]
            self.used += 1
            if len(chunk) != nbytes:
                raise ValueError(f"FixedEntropy chunk has {len(chunk)} bytes, {nbytes} asked")
            return chunk

        return take


DEFAULT_ENTROPY = SystemEntropy()
