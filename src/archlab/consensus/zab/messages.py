"""The messages Zab nodes exchange (codex 5.3; Junqueira, Reed, Serafini, DSN 2011).

Every message names its sender ``src`` and destination ``dst``.

Leader election (Fast Leader Election):
    :class:`Notification`: a node's vote ``(epoch, zxid, leader)`` in election round ``round``,
    and its state; a node that is already following or leading answers a looking node with its
    leader, so a restarted node finds the established one.

Phase 1, discovery:
    :class:`FollowerInfo` (the follower's accepted and current epochs and its history's
    segments) → :class:`NewEpoch` (the epoch one above every accepted epoch of a quorum, with the
    leader's own current epoch and segments) → :class:`AckEpoch` (the follower's current epoch
    and segments; if its history is more up to date than the leader's, the part the leader lacks).

Phase 2, synchronization:
    :class:`NewLeader`: the leader's initial history for this follower: DIFF (the missing
    suffix), TRUNC (cut a divergent suffix, then the missing one) or SNAP (a snapshot and what
    follows). The follower's first :class:`Ack` of the epoch acknowledges it.

Phase 3, broadcast:
    :class:`Proposal` (transactions, strictly after ``prev``; ``commit`` piggybacked) →
    :class:`Ack` (the follower's last zxid; ``gap`` when a proposal did not follow its history, so
    the leader resends) → :class:`Commit`. :class:`Ping` is the heartbeat, answered by an Ack.

``attempt`` numbers one follower's connection to one leader (a random number drawn when it
starts following), so a delayed NEWLEADER from an earlier connection is never installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from archlab.consensus.zab.types import Segments, ServerState, Snapshot, Txn, Vote, Zxid


@dataclass(frozen=True, slots=True)
class Notification:
    src: int
    dst: int
    round: int
    vote: Vote
    state: ServerState
    #: False from an observer: its vote does not count, it only looks for the leader.
    voter: bool = True


@dataclass(frozen=True, slots=True)
class FollowerInfo:
    src: int
    dst: int
    attempt: int
    accepted_epoch: int
    current_epoch: int
    segments: Segments
    voter: bool = True


@dataclass(frozen=True, slots=True)
class NewEpoch:
    src: int
    dst: int
    attempt: int
    epoch: int
    #: The leader's current epoch and segments, so a follower knows whether it is ahead.
    current_epoch: int
    segments: Segments


@dataclass(frozen=True, slots=True)
class AckEpoch:
    src: int
    dst: int
    attempt: int
    epoch: int
    current_epoch: int
    segments: Segments
    #: Whether this acknowledges the epoch for the first time. A follower that had already
    #: accepted this epoch (from another leader, or before a restart) must not count towards
    #: establishing it — two leaders could otherwise establish one epoch — but still gets
    #: synchronized once it is established (as in ZooKeeper).
    counts: bool = True
    #: Only when this follower's history is more up to date than the leader's: the transactions
    #: after the longest common prefix (and its snapshot, if that prefix is compacted).
    suffix: tuple[Txn, ...] | None = None
    snapshot: Snapshot | None = None


@dataclass(frozen=True, slots=True)
class NewLeader:
    src: int
    dst: int
    attempt: int
    epoch: int
    #: ``DIFF``, ``TRUNC`` or ``SNAP`` (what the follower's history needs; informative).
    mode: str
    #: Keep the first ``truncate_to`` transactions (ignored with a snapshot), then append ``txns``.
    truncate_to: int
    snapshot: Snapshot | None
    txns: tuple[Txn, ...]
    commit: Zxid


@dataclass(frozen=True, slots=True)
class Proposal:
    src: int
    dst: int
    epoch: int
    prev: Zxid
    txns: tuple[Txn, ...]
    commit: Zxid


@dataclass(frozen=True, slots=True)
class Ack:
    src: int
    dst: int
    epoch: int
    zxid: Zxid
    gap: bool = False
    #: The Ping's read round, echoed (:meth:`archlab.consensus.zab.ZabNode.read_barrier`).
    round: int = 0


@dataclass(frozen=True, slots=True)
class Commit:
    src: int
    dst: int
    epoch: int
    zxid: Zxid


@dataclass(frozen=True, slots=True)
class Ping:
    src: int
    dst: int
    epoch: int
    commit: Zxid
    #: The leader's read round: a quorum acknowledging it in this epoch confirms the leader.
    round: int = 0


Message: TypeAlias = (
    Notification | FollowerInfo | NewEpoch | AckEpoch | NewLeader | Proposal | Ack | Commit | Ping
)
