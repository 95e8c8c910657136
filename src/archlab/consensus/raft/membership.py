"""Membership change: one server at a time, in force from the moment it is appended (codex 5.3).

archlab's Raft uses the dissertation's single-server changes (§4.1, §4.3) rather than joint
consensus: a :class:`ConfChange` adds a voter, adds a learner (a non-voting member that receives
the log), promotes a learner, or removes a member. Adding or removing one voter at a time means
any majority of the old voters and any majority of the new ones intersect, so no moment exists
at which two disjoint majorities could decide.

**When a configuration takes effect: when its entry is appended, not when it commits.** Every
server uses the latest configuration in its log, committed or not; a follower whose
configuration entry is truncated by a new leader goes back to the previous one. Why appended:
the leader must already count the *new* majority when it decides whether the configuration
entry itself (and everything after it) is committed — a removed server must not help commit its
own removal, an added one must be waited for — and servers that receive the entry must
immediately vote and count under the same rules as the leader that sent it. Waiting for commit
would leave a window in which the leader and its followers judge quorums by different
configurations. Entries carry whole configurations, so reverting after a truncation is a lookup.

The leader accepts a change only when (a) no earlier configuration entry is still uncommitted —
one change at a time — and (b) it has committed an entry of its own term. Rule (b) is the fix
Ongaro published in 2015 for the single-server algorithm: without it, a new leader's change can
race an uncommitted change from a previous term and let two disjoint majorities form. A leader
that removes itself keeps leading (without counting its own vote) until the entry commits, then
steps down. A server that is not a voter in its latest configuration never starts an election.

:class:`ConfigHistory` tracks the configuration at every position of the log above the
snapshot, so a node can look up the configuration at a snapshot index and revert on truncation.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from enum import Enum

from archlab.consensus.raft.types import ConfState


class ConfChangeKind(Enum):
    ADD_VOTER = "add-voter"
    ADD_LEARNER = "add-learner"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class ConfChange:
    """One membership change; ``ADD_VOTER`` on a learner promotes it."""

    kind: ConfChangeKind
    node: int


class ConfChangeError(ValueError):
    """A change that is not a valid single-server change of the given configuration."""


def apply_change(conf: ConfState, change: ConfChange) -> ConfState:
    """The configuration after ``change``; raises :class:`ConfChangeError` if it is invalid."""
    voters, learners = set(conf.voters), set(conf.learners)
    node = change.node
    if change.kind is ConfChangeKind.ADD_VOTER:
        if node in voters:
            raise ConfChangeError(f"node {node} is already a voter")
        learners.discard(node)
        voters.add(node)
    elif change.kind is ConfChangeKind.ADD_LEARNER:
        if node in learners:
            raise ConfChangeError(f"node {node} is already a learner")
        voters.discard(node)
        learners.add(node)
    else:
        if node not in voters and node not in learners:
            raise ConfChangeError(f"node {node} is not a member")
        voters.discard(node)
        learners.discard(node)
    if not voters:
        raise ConfChangeError("a configuration needs at least one voter")
    new = ConfState(frozenset(voters), frozenset(learners))
    if len(new.voters ^ conf.voters) > 1:
        raise ConfChangeError("more than one voter changes at once")
    return new


class ConfigHistory:
    """The configuration at each log position above the snapshot."""

    def __init__(self, base_index: int, base: ConfState) -> None:
        self.base_index = base_index
        self.base = base
        self._indexes: list[int] = []
        self._confs: list[ConfState] = []

    def reset(self, base_index: int, base: ConfState) -> None:
        self.base_index = base_index
        self.base = base
        self._indexes.clear()
        self._confs.clear()

    def append(self, index: int, conf: ConfState) -> None:
        if self._indexes and index <= self._indexes[-1]:
            raise AssertionError(f"configuration at {index} appended out of order")
        self._indexes.append(index)
        self._confs.append(conf)

    def truncate_from(self, index: int) -> None:
        """Forget configuration entries at or after ``index`` (their log suffix was replaced)."""
        keep = bisect_right(self._indexes, index - 1)
        del self._indexes[keep:]
        del self._confs[keep:]

    def latest(self) -> ConfState:
        return self._confs[-1] if self._confs else self.base

    def latest_index(self) -> int:
        """Index of the latest configuration entry (the snapshot's index if none follows)."""
        return self._indexes[-1] if self._indexes else self.base_index

    def at(self, index: int) -> ConfState:
        """The configuration in force at log position ``index``."""
        position = bisect_right(self._indexes, index)
        return self._confs[position - 1] if position else self.base
