"""Multi-Paxos's data: ballots, per-slot acceptor state, snapshots, roles (codex 5.3).

- :class:`Ballot`: a proposal number ``(round, node)``, ordered lexicographically, so two
  proposers never use the same ballot and every ballot can be beaten by a higher round.
  ``Ballot()`` (round 0, node 0) is below every ballot a node uses.
- :class:`Slot`: what one node durably knows about one log position: the value its acceptor
  accepted and in which ballot, and whether its learner knows that value is *chosen*. An empty
  value is the no-op a new leader proposes for a hole.
- :class:`Snapshot`: the state machine's bytes at ``index``: every slot up to it is chosen and
  applied, and the slots themselves are gone (log compaction).
- :class:`SoftState`: the volatile role and leader, for hosts that react to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True, slots=True, order=True)
class Ballot:
    """A proposal number: higher ``round`` wins, ``node`` breaks ties."""

    round: int = 0
    node: int = 0

    def __repr__(self) -> str:
        return f"b{self.round}.{self.node}"


ZERO = Ballot()


@dataclass(frozen=True, slots=True)
class Slot:
    """One log position as a node knows it (see the module docstring)."""

    index: int
    ballot: Ballot
    value: bytes
    chosen: bool = False

    @property
    def is_noop(self) -> bool:
        return not self.value


@dataclass(frozen=True, slots=True)
class Chosen:
    """A chosen ``value`` at ``slot``: what a learner applies, in slot order."""

    slot: int
    value: bytes


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state machine after applying every slot up to ``index``."""

    index: int = 0
    data: bytes = b""


class Role(Enum):
    FOLLOWER = "follower"
    #: Probing whether a majority would promise (Paxos's analogue of Raft's pre-vote).
    PROBING = "probing"
    #: Running phase 1 with its ballot.
    CANDIDATE = "candidate"
    LEADER = "leader"


@dataclass(frozen=True, slots=True)
class SoftState:
    leader: int | None
    role: Role
