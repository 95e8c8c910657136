"""A voter that lost its disk: refuse to vote, rejoin as a learner, be promoted (codex 5.3).

Raft's safety assumes stable storage. A voter whose disk is wiped and which rejoins under its old
identity has forgotten the terms it saw, the vote it cast and the entries it acknowledged: it
can vote for a candidate whose log lacks a committed entry, or vote twice in one term, and a
stale leader counting its fresh acknowledgements can commit in a term that another leader has
already superseded. The Raft paper says so; production systems answer it by never letting such
a node act as a voter again until the cluster re-admits it.

**How a node knows it lost its disk.** Its host tells it (``recovering=True``): the node finds
no stable state although it *was* a member. The simulator provisions every disk with a recovery
mark when the world is created, so a disk without one was wiped
(:class:`~archlab.consensus.raft.simstorage.DiskRecoveryMark`); the runtime knows because the
cluster description records that the node ran before
(:mod:`archlab.runtime.recoverymark`). The host then keeps a durable *recovery mark*
(:class:`RecoveryMark`) saying so until the node is re-admitted, so a crash in the middle of
recovery does not make the half-filled disk look like a trustworthy voter's.

**What a recovering node does** (:class:`~archlab.consensus.raft.core.NodeCore`):

- it never campaigns and refuses every vote and pre-vote;
- it follows the leader, stores entries and installs snapshots as usual, but its
  :class:`~archlab.consensus.raft.messages.AppendResponse` and
  :class:`~archlab.consensus.raft.messages.HeartbeatResponse` say ``recovering``: the leader
  keeps replicating to it but counts it towards no quorum (not for commitment, not for the
  ReadIndex confirmation, not for a lease), because it may not know that a newer term exists.

**How the cluster re-admits it** (the leader's :func:`repair`, called by
:class:`~archlab.consensus.raft.server.RaftServer`): a voter that reports ``recovering`` is
demoted to a learner by a single-server membership change as soon as the leader hears from it;
once the learner has caught up (by snapshot if the log was compacted) to the leader's commit
index, the leader promotes it back.
The node leaves recovery when it appends the promoting configuration having held the demoting
one; it then records a vote for the leader of its current term (so it cannot grant a second
one in it) and the host clears the mark in the same sync as that state.

**The residual hazard**, stated: a vote the node cast before the wipe in a term *higher* than the
one it is promoted in is still forgotten. That needs a candidate of that higher term still
campaigning after the demotion and the promotion both committed under a lower-term leader;
pre-vote and check-quorum make it rare, and the wiped-disk seed sweep checks the whole history.
Giving the re-admitted node a new identity (as etcd's member ids and CockroachDB's replica ids
do) would remove it; archlab keeps node ids tied to addresses.
"""

from __future__ import annotations

from typing import Protocol

from archlab.consensus.raft.membership import ConfChange, ConfChangeKind
from archlab.consensus.raft.node import RaftNode


class RecoveryMark(Protocol):
    """The host's durable note that this node is recovering a lost disk."""

    @property
    def recovering(self) -> bool:
        """Whether the node must start in recovery."""
        ...

    def recovered(self) -> None:
        """Clear the mark (durable at the host's next sync, with the node's new state)."""
        ...


def repair(node: RaftNode) -> ConfChange | None:
    """The membership change a leader should propose to re-admit a recovering member, if any.

    Demote a recovering voter to a learner at once, unless the latest configuration entry is
    its own promotion and it has not stored it yet (it is recovering only because it has not
    seen it); promote a recovering learner once it holds the leader's commit index. ``None``
    when nothing is to be done, or while a change is in flight.
    """
    if not node.is_leader or not any(p.recovering for p in node.tracker.progress.values()):
        return None
    if node.configs.latest_index() > node.commit_index:
        return None
    conf = node.conf
    latest = node.configs.latest_index()
    before = node.configs.at(latest - 1) if latest > node.configs.base_index else conf
    for peer, progress in sorted(node.tracker.progress.items()):
        if peer == node.id or not progress.recovering:
            continue
        if peer in conf.voters and len(conf.voters) > 1:
            just_promoted = peer in before.learners
            if not just_promoted or progress.match >= latest:
                return ConfChange(ConfChangeKind.ADD_LEARNER, peer)
        elif peer in conf.learners and progress.match >= node.commit_index:
            return ConfChange(ConfChangeKind.ADD_VOTER, peer)
    return None
