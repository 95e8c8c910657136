"""The messages Raft nodes exchange (codex 5.3; Raft paper Figure 2, dissertation ch. 3–6).

Every message names its sender ``src``, its destination ``dst`` and the sender's ``term``. They
are frozen values of ints, bytes and tuples, so a host can count, copy, duplicate, reorder or
serialise them freely.

- :class:`VoteRequest` / :class:`VoteResponse`: RequestVote, and with ``pre_vote`` set the
  pre-vote round (dissertation §9.6) that asks "would you vote for me at ``term``?" without
  anybody changing its term.
- :class:`AppendEntries` / :class:`AppendResponse`: replication with the consistency check on
  ``(prev_index, prev_term)``. A rejection carries a hint for fast backtracking: the largest
  index at or below ``prev_index`` whose term on the follower is at most ``prev_term``, with that
  term, so the leader skips a whole term per round trip instead of one entry.
- :class:`Heartbeat` / :class:`HeartbeatResponse`: leadership assertion and commit propagation;
  ``round`` numbers them, and a quorum acknowledging a round confirms leadership for ReadIndex
  and starts a lease. Both responses say whether their sender is *recovering* (it lost its
  disk, :mod:`.recovery`): such an acknowledgement counts towards no quorum.
- :class:`InstallSnapshot`: the whole snapshot for a follower behind the compaction point (the
  reply is an :class:`AppendResponse` for the snapshot's index).
- :class:`ReadIndexRequest` / :class:`ReadIndexResponse`: a follower forwarding a ReadIndex
  request to the leader and getting back the index to wait for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from archlab.consensus.raft.types import Entry, Snapshot


@dataclass(frozen=True, slots=True)
class VoteRequest:
    src: int
    dst: int
    term: int
    last_index: int
    last_term: int
    pre_vote: bool = False


@dataclass(frozen=True, slots=True)
class VoteResponse:
    src: int
    dst: int
    term: int
    granted: bool
    pre_vote: bool = False


@dataclass(frozen=True, slots=True)
class AppendEntries:
    src: int
    dst: int
    term: int
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int


@dataclass(frozen=True, slots=True)
class AppendResponse:
    """Success: ``index`` is the follower's last index known to match the leader.

    Rejection: ``index`` is the rejected ``prev_index``; ``hint_index``/``hint_term`` guide the
    leader's next probe.
    """

    src: int
    dst: int
    term: int
    index: int
    reject: bool = False
    hint_index: int = 0
    hint_term: int = 0
    #: The sender lost its stable state and has not been re-admitted: see :mod:`.recovery`.
    recovering: bool = False


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """``commit`` is already capped by the leader at what this follower is known to hold."""

    src: int
    dst: int
    term: int
    commit: int
    round: int


@dataclass(frozen=True, slots=True)
class HeartbeatResponse:
    src: int
    dst: int
    term: int
    round: int
    #: As in :class:`AppendResponse`: this acknowledgement counts towards no quorum.
    recovering: bool = False


@dataclass(frozen=True, slots=True)
class InstallSnapshot:
    src: int
    dst: int
    term: int
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class ReadIndexRequest:
    src: int
    dst: int
    term: int
    context: bytes


@dataclass(frozen=True, slots=True)
class ReadIndexResponse:
    src: int
    dst: int
    term: int
    context: bytes
    index: int


Message: TypeAlias = (
    VoteRequest
    | VoteResponse
    | AppendEntries
    | AppendResponse
    | Heartbeat
    | HeartbeatResponse
    | InstallSnapshot
    | ReadIndexRequest
    | ReadIndexResponse
)

#: Messages only a leader sends: receiving one means ``src`` leads ``term``.
LEADER_MESSAGES = (AppendEntries, Heartbeat, InstallSnapshot)
