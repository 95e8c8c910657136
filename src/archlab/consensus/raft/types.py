"""Raft's data: log entries, hard state, configurations, snapshots, roles (codex 5.3).

These are plain frozen values so they can be persisted, sent, compared and hashed as they are;
the wire and disk encodings belong to the hosts (simulator, runtime).

- :class:`Entry`: one log position: its term, its index, its kind and opaque ``data``. A
  ``NORMAL`` entry with empty data is the no-op a new leader appends; a ``CONFIG`` entry carries
  a whole :class:`ConfState` (not a delta), so a truncated configuration entry is undone simply
  by going back to the previous one.
- :class:`HardState`: what must survive a crash besides the log: the current term, the vote
  cast in it and the commit index.
- :class:`ConfState`: the voters and the learners (non-voting members that receive the log).
- :class:`Snapshot`: the state machine's bytes at ``index``/``term`` with the configuration in
  force at that index; it replaces the log prefix up to ``index``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum


class EntryKind(Enum):
    NORMAL = "normal"
    CONFIG = "config"


@dataclass(frozen=True, slots=True)
class Entry:
    """A log entry. ``data`` is opaque to Raft (empty for a leader's no-op)."""

    term: int
    index: int
    data: bytes = b""
    kind: EntryKind = EntryKind.NORMAL

    @property
    def is_noop(self) -> bool:
        return self.kind is EntryKind.NORMAL and not self.data


@dataclass(frozen=True, slots=True)
class HardState:
    """Term, vote and commit index: persisted before any message that depends on them."""

    term: int = 0
    vote: int | None = None
    commit: int = 0


@dataclass(frozen=True, slots=True)
class ConfState:
    """A cluster configuration: who votes and who only learns."""

    voters: frozenset[int] = field(default_factory=frozenset)
    learners: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def of(cls, voters: list[int] | tuple[int, ...], learners: tuple[int, ...] = ()) -> ConfState:
        return cls(frozenset(voters), frozenset(learners))

    @property
    def members(self) -> frozenset[int]:
        return self.voters | self.learners

    @property
    def quorum(self) -> int:
        """Votes or acknowledgements needed: a majority of the voters."""
        return len(self.voters) // 2 + 1

    def encode(self) -> bytes:
        body = {"voters": sorted(self.voters), "learners": sorted(self.learners)}
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> ConfState:
        body = json.loads(data)
        return cls(frozenset(body["voters"]), frozenset(body["learners"]))

    def __repr__(self) -> str:
        learners = f" learners={sorted(self.learners)}" if self.learners else ""
        return f"ConfState(voters={sorted(self.voters)}{learners})"


@dataclass(frozen=True, slots=True)
class SnapshotMetadata:
    """Where a snapshot sits in the log and the configuration in force there."""

    index: int = 0
    term: int = 0
    conf: ConfState = field(default_factory=ConfState)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state machine as of ``metadata.index`` (its bytes are opaque to Raft)."""

    metadata: SnapshotMetadata = field(default_factory=SnapshotMetadata)
    data: bytes = b""

    @property
    def index(self) -> int:
        return self.metadata.index

    @property
    def term(self) -> int:
        return self.metadata.term


class Role(Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


@dataclass(frozen=True, slots=True)
class SoftState:
    """Volatile state a host may want to react to (who leads, in which role this node is)."""

    leader: int | None
    role: Role


@dataclass(frozen=True, slots=True)
class ReadState:
    """A linearizable read may be served once the local state machine has applied ``index``.

    ``context`` is the caller's opaque tag given to :meth:`RaftNode.read_index`.
    """

    index: int
    context: bytes
