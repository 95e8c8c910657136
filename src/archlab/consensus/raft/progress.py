"""The leader's view of each follower, and quorum arithmetic (codex 5.3).

For every member the leader keeps a :class:`Progress`: ``match`` (highest index known to be
replicated there) and ``next`` (next index to send), and one of three states, as in etcd:

- ``PROBE``: the leader does not know where the follower's log matches; it sends one
  AppendEntries at a time and waits for the answer (a rejection moves ``next`` back, using the
  follower's hint so that each round trip skips a whole term);
- ``REPLICATE``: the logs match up to ``match``; the leader streams entries optimistically
  (``next`` jumps ahead on send), with at most ``max_inflight`` messages unacknowledged;
- ``SNAPSHOT``: the follower needs entries the leader has compacted; a snapshot is on its way
  and nothing else is sent until it is acknowledged (or, if it seems lost, an election timeout
  later the leader probes again and resends).

:class:`ProgressTracker` holds the progress of every member of the configuration and answers
the quorum questions: the highest index replicated on a majority of voters, whether an election
is won or lost, whether a majority was heard from within an election timeout (check-quorum).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from archlab.consensus.raft.types import ConfState


class ProgressState(Enum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class VoteResult(Enum):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"


@dataclass(slots=True)
class Progress:
    """Replication state of one member, as the leader sees it."""

    next: int
    match: int = 0
    state: ProgressState = ProgressState.PROBE
    #: In PROBE: an AppendEntries is out and unanswered, so do not send another.
    probe_sent: bool = False
    #: In SNAPSHOT: the index of the snapshot sent, and ticks since it was sent.
    pending_snapshot: int = 0
    snapshot_elapsed: int = 0
    #: The leader's tick at which it last heard from this member (check-quorum, snapshots).
    last_heard: int = 0
    is_learner: bool = False
    #: The member said it lost its disk and awaits re-admission: its match counts for no quorum.
    recovering: bool = False
    max_inflight: int = 256
    #: Last index of each unacknowledged AppendEntries in REPLICATE.
    inflight: deque[int] = field(default_factory=deque)

    def _reset(self, state: ProgressState) -> None:
        self.state = state
        self.probe_sent = False
        self.pending_snapshot = 0
        self.snapshot_elapsed = 0
        self.inflight.clear()

    def become_probe(self) -> None:
        if self.state is ProgressState.SNAPSHOT:
            pending = self.pending_snapshot
            self._reset(ProgressState.PROBE)
            self.next = max(self.match + 1, pending + 1)
        else:
            self._reset(ProgressState.PROBE)
            self.next = self.match + 1

    def become_replicate(self) -> None:
        self._reset(ProgressState.REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, index: int) -> None:
        self._reset(ProgressState.SNAPSHOT)
        self.pending_snapshot = index

    def is_paused(self) -> bool:
        if self.state is ProgressState.PROBE:
            return self.probe_sent
        if self.state is ProgressState.REPLICATE:
            return len(self.inflight) >= self.max_inflight
        return True

    def sent(self, last_index: int, count: int) -> None:
        """Account for an AppendEntries carrying ``count`` entries up to ``last_index``."""
        if self.state is ProgressState.REPLICATE:
            if count:
                self.next = last_index + 1
                self.inflight.append(last_index)
        elif self.state is ProgressState.PROBE:
            self.probe_sent = True

    def maybe_update(self, index: int) -> bool:
        """An acknowledgement up to ``index``; True when it told us something new."""
        updated = index > self.match
        if updated:
            self.match = index
            self.probe_sent = False
        self.next = max(self.next, index + 1)
        while self.inflight and self.inflight[0] <= index:
            self.inflight.popleft()
        return updated

    def maybe_decrease_to(self, rejected: int, probe_hint: int) -> bool:
        """A rejection of ``prev_index == rejected``; False when it is stale."""
        if self.state is ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, probe_hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def free_one_inflight(self) -> None:
        if self.inflight:
            self.inflight.popleft()


class ProgressTracker:
    """The progress of every member of the current configuration."""

    def __init__(self, conf: ConfState, max_inflight: int = 256) -> None:
        self.conf = conf
        self.max_inflight = max_inflight
        self.progress: dict[int, Progress] = {}

    def reset(self, conf: ConfState, next_index: int, now: int) -> None:
        """Fresh progress for every member (a new leader knows nothing about followers).

        Every member counts as heard from ``now``: a new leader gets one election timeout to
        hear from a majority before check-quorum deposes it.
        """
        self.conf = conf
        self.progress = {
            node: Progress(
                next=next_index,
                last_heard=now,
                is_learner=node in conf.learners,
                max_inflight=self.max_inflight,
            )
            for node in sorted(conf.members)
        }

    def apply_conf(self, conf: ConfState, next_index: int, now: int) -> None:
        """Switch to ``conf``, keeping what is known about members that stay."""
        self.conf = conf
        kept: dict[int, Progress] = {}
        for node in sorted(conf.members):
            progress = self.progress.get(node)
            if progress is None:
                # A newcomer counts as heard from now, so check-quorum waits for its answers.
                progress = Progress(next=next_index, last_heard=now, max_inflight=self.max_inflight)
            progress.is_learner = node in conf.learners
            kept[node] = progress
        self.progress = kept

    def get(self, node: int) -> Progress | None:
        return self.progress.get(node)

    def peers(self, self_id: int) -> list[int]:
        return [node for node in self.progress if node != self_id]

    def committed_index(self) -> int:
        """The highest index replicated on a majority of the voters (0 without voters)."""
        voters = self.conf.voters
        if not voters:
            return 0
        matches = sorted(
            (0 if self.progress[v].recovering else self.progress[v].match for v in voters),
            reverse=True,
        )
        return matches[self.conf.quorum - 1]

    def vote_result(self, votes: dict[int, bool]) -> VoteResult:
        voters = self.conf.voters
        granted = sum(1 for v in voters if votes.get(v) is True)
        rejected = sum(1 for v in voters if votes.get(v) is False)
        if voters and granted >= self.conf.quorum:
            return VoteResult.WON
        if len(voters) - rejected < self.conf.quorum:
            return VoteResult.LOST
        return VoteResult.PENDING

    def quorum_active(self, self_id: int, now: int, window: int) -> bool:
        """Whether a majority of voters was heard from within the last ``window`` ticks."""
        active = sum(
            1
            for node in self.conf.voters
            if node == self_id
            or (node in self.progress and now - self.progress[node].last_heard < window)
        )
        return bool(self.conf.voters) and active >= self.conf.quorum
