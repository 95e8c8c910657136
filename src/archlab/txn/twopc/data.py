"""A participant's data: versions of each key by commit timestamp, and executing micro-ops.

Every committed write installs a new version ``(timestamp, value)`` of its key; a read under
locks sees the newest version, a snapshot read at ``t`` the newest version at or below ``t``
(multiversion reads, as Spanner serves lock-free reads at a timestamp).

:func:`execute` runs one transaction's share of micro-operations against the newest versions,
in order, each seeing the transaction's own earlier writes: ``r`` reads, ``append`` extends a
list, ``w`` replaces, ``add`` adds a number. The bank rules of ``add`` make a transfer fail
the way a real one does: a balance may not go negative, and a key holding :data:`CLOSED`
refuses money.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from archlab.txn.twopc.messages import ADD, APPEND, READ, WRITE, Micro

CLOSED = "closed"


class Refused(Exception):
    """The transaction's work cannot be done here (its participant votes no)."""


@dataclass(frozen=True, slots=True)
class Execution:
    """What a share of a transaction did: reads ``(index, value)`` and writes ``(key, new)``."""

    reads: tuple[tuple[int, Any], ...]
    writes: tuple[tuple[Hashable, Any], ...]


class Versions:
    """Every committed version of every key, by timestamp."""

    def __init__(self) -> None:
        self._stamps: dict[Hashable, list[float]] = {}
        self._values: dict[Hashable, list[Any]] = {}

    def install(self, key: Hashable, timestamp: float, value: Any) -> None:
        stamps = self._stamps.setdefault(key, [])
        values = self._values.setdefault(key, [])
        at = bisect.bisect_right(stamps, timestamp)
        stamps.insert(at, timestamp)
        values.insert(at, value)

    def latest(self, key: Hashable) -> Any:
        values = self._values.get(key)
        return values[-1] if values else None

    def at(self, key: Hashable, timestamp: float) -> Any:
        """The value of ``key`` as of ``timestamp`` (None before its first version)."""
        stamps = self._stamps.get(key)
        if not stamps:
            return None
        at = bisect.bisect_right(stamps, timestamp)
        return self._values[key][at - 1] if at else None

    def all_keys(self) -> list[Hashable]:
        return sorted(self._values, key=repr)

    def newest_timestamp(self) -> float:
        return max((s[-1] for s in self._stamps.values() if s), default=0.0)


def execute(versions: Versions, micro: Sequence[Micro]) -> Execution:
    """Run ``micro`` against the newest versions (see the module docstring); may refuse."""
    view: dict[Hashable, Any] = {}
    reads: list[tuple[int, Any]] = []
    for index, (f, key, value) in enumerate(micro):
        current = view[key] if key in view else versions.latest(key)
        if f == READ:
            reads.append((index, current))
        elif f == APPEND:
            view[key] = (*(current or ()), value)
        elif f == WRITE:
            view[key] = value
        elif f == ADD:
            if current == CLOSED:
                raise Refused(f"account {key!r} is closed")
            balance = (current or 0) + value
            if balance < 0:
                raise Refused(f"account {key!r} would go negative ({balance})")
            view[key] = balance
        else:
            raise Refused(f"unknown micro-operation {f!r}")
    return Execution(tuple(reads), tuple(view.items()))


def freeze(value: Any) -> Any:
    """JSON lists back to tuples (list-append values are tuples in histories)."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value
