"""Zab's data: zxids, transactions, votes, phases, durable epochs, snapshots (codex 5.3).

- :class:`Zxid`: ⟨epoch, counter⟩, ordered lexicographically. The leader of epoch *e* numbers its
  proposals ⟨e, 1⟩, ⟨e, 2⟩ ...; no two leaders share an epoch, so a zxid names one proposal.
- :class:`Txn`: a proposal in a history: its zxid and the opaque command bytes.
- :class:`Vote`: what Fast Leader Election compares: ``(epoch, zxid, leader)`` — the candidate's
  current epoch, its last zxid, its id — higher wins, in that order.
- :class:`HardState`: the two durable epochs of the Zab paper: ``accepted_epoch`` (the last
  NEWEPOCH acknowledged: no older leader's proposals are accepted after it) and
  ``current_epoch`` (the last NEWLEADER acknowledged: whose history this node holds).
- :class:`Snapshot`: the state machine after the first ``length`` transactions of the history
  (the last being ``zxid``), with the history's epoch segments up to there (see
  :mod:`archlab.consensus.zab.history`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True, slots=True, order=True)
class Zxid:
    epoch: int = 0
    counter: int = 0

    def __repr__(self) -> str:
        return f"<{self.epoch},{self.counter}>"


ZERO = Zxid()


@dataclass(frozen=True, slots=True)
class Txn:
    zxid: Zxid
    data: bytes


@dataclass(frozen=True, slots=True)
class Delivered:
    """A committed transaction handed to the caller: its position in the history (1-based, the
    index the state machine applies it at), its zxid and its bytes."""

    position: int
    zxid: Zxid
    data: bytes


#: ``(epoch, last counter)`` per epoch present in a history, in order: the history holds
#: ⟨epoch, 1⟩ ... ⟨epoch, last⟩ for each.
Segments = tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Snapshot:
    zxid: Zxid = ZERO
    length: int = 0
    segments: Segments = ()
    data: bytes = b""


@dataclass(frozen=True, slots=True, order=True)
class Vote:
    """A Fast Leader Election vote, ordered as ZooKeeper orders them."""

    epoch: int
    zxid: Zxid
    leader: int


class ServerState(Enum):
    LOOKING = "looking"
    FOLLOWING = "following"
    LEADING = "leading"


class Phase(Enum):
    """Where a node is in Zab: electing, then the paper's phases 1-3."""

    ELECTION = "election"
    DISCOVERY = "discovery"
    SYNCHRONIZATION = "synchronization"
    BROADCAST = "broadcast"


@dataclass(frozen=True, slots=True)
class HardState:
    accepted_epoch: int = 0
    current_epoch: int = 0


@dataclass(frozen=True, slots=True)
class SoftState:
    leader: int | None
    state: ServerState
    phase: Phase
