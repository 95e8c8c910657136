"""The messages of two-phase commit and of the store built on it (codex 6.1).

A transaction is a tuple of micro-operations ``(f, key, value)`` (:data:`Micro`): ``r`` reads
a key, ``append`` adds a value to a key's list, ``w`` writes a value, ``add`` adds a number
(refused when the result would be negative or the key is closed: a bank's rules).

Phase one: the coordinator sends each participant its share of the work in a
:class:`Prepare`; the participant locks the keys, executes, makes the result durable and
answers a :class:`Vote` (yes with its reads and prepare timestamp, or no). Phase two: the
decision, :class:`Commit` (with the commit timestamp) or :class:`Abort`; a participant
acknowledges a commit with :class:`Ack`. A prepared participant that has waited too long for
the decision asks the coordinator with :class:`QueryDecision` (the termination protocol; it
may not decide alone). :class:`SnapshotRead` / :class:`SnapshotReply` are the lock-free reads
at a timestamp of the Spanner-style store.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from archlab.sim.process import Address

Micro = tuple[str, Hashable, Any]
TxnId = int

#: Micro-operation names.
READ, APPEND, WRITE, ADD = "r", "append", "w", "add"
WRITING = frozenset({APPEND, WRITE, ADD})


@dataclass(frozen=True, slots=True)
class Prepare:
    txn: TxnId
    coordinator: Address
    participants: tuple[Address, ...]
    micro: tuple[Micro, ...]


@dataclass(frozen=True, slots=True)
class Vote:
    txn: TxnId
    yes: bool
    #: The participant's prepare timestamp (a yes vote), a lower bound for the commit's.
    timestamp: float = 0.0
    #: The reads, ``((index in the participant's share, value), ...)``.
    reads: tuple[tuple[int, Any], ...] = ()
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Commit:
    txn: TxnId
    timestamp: float


@dataclass(frozen=True, slots=True)
class Abort:
    txn: TxnId


@dataclass(frozen=True, slots=True)
class Ack:
    txn: TxnId


@dataclass(frozen=True, slots=True)
class QueryDecision:
    txn: TxnId


@dataclass(frozen=True, slots=True)
class SnapshotRead:
    read: int
    timestamp: float
    keys: tuple[Hashable, ...]


@dataclass(frozen=True, slots=True)
class SnapshotReply:
    read: int
    values: tuple[tuple[Hashable, Any], ...]


# -- what clients are told ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Committed:
    """The transaction committed: its micro-operations with the reads filled in."""

    micro: tuple[Micro, ...]
    timestamp: float


@dataclass(frozen=True, slots=True)
class Aborted:
    """The transaction certainly did not take effect."""

    reason: str


@dataclass(frozen=True, slots=True)
class Unavailable:
    """This node cannot coordinate right now (not synchronised, not a coordinator)."""

    reason: str
