"""The state a Raft node carries, and its role transitions (codex 5.3).

:class:`NodeCore` is the part of :class:`~archlab.consensus.raft.RaftNode` that every other part
uses: the durable state (term, vote, the log, the configuration history), the volatile state
(role, leader, timers, votes, the leader's progress tracker and read tracker), the outbox of
messages and read states that the next Ready hands over, and the transitions between follower,
pre-candidate and candidate. The behaviour lives in mixins, one concern each:
:mod:`.election` (timeouts, pre-vote, votes), :mod:`.replication` (the leader's and the
followers' log handling, commitment, membership), :mod:`.reads` (ReadIndex and leases); and
:mod:`.node` assembles them behind the public driving API.
"""

from __future__ import annotations

from archlab.consensus.raft.config import RaftConfig, ReadMode
from archlab.consensus.raft.log import RaftLog
from archlab.consensus.raft.membership import ConfigHistory
from archlab.consensus.raft.messages import Message
from archlab.consensus.raft.progress import ProgressTracker
from archlab.consensus.raft.readonly import ReadIndexTracker
from archlab.consensus.raft.storage import Storage
from archlab.consensus.raft.types import (
    ConfState,
    EntryKind,
    HardState,
    ReadState,
    Role,
    SoftState,
)
from archlab.randomness import RandomSource


class NodeCore:
    """A Raft node's state and role transitions; see :class:`RaftNode` for the API."""

    def __init__(
        self,
        config: RaftConfig,
        storage: Storage,
        rng: RandomSource,
        applied: int | None = None,
        recovering: bool = False,
    ) -> None:
        """Start (or restart) from what ``storage`` holds.

        ``applied`` is the highest index the caller's state machine already reflects (default:
        the snapshot's index, i.e. the caller restores the snapshot and re-applies the rest).
        ``recovering``: this node was a voter and lost its stable state (see :mod:`.recovery`).
        """
        self.config = config
        self.id = config.id
        self.storage = storage
        self._rng = rng
        self.log = RaftLog(storage, config.max_entries_per_msg)
        hard = storage.hard_state()
        snapshot = storage.snapshot()
        self.term = hard.term
        self.vote: int | None = hard.vote
        self.log.commit_to(max(hard.commit, snapshot.index))
        if applied is not None:
            self.log.applied_to(min(applied, self.log.committed))
        self.configs = ConfigHistory(snapshot.index, snapshot.metadata.conf)
        if storage.last_index() >= storage.first_index():
            for entry in storage.entries(storage.first_index(), storage.last_index() + 1):
                if entry.kind is EntryKind.CONFIG:
                    self.configs.append(entry.index, ConfState.decode(entry.data))
        self.tracker = ProgressTracker(self.configs.latest(), config.max_inflight)
        #: Lost its disk and not yet re-admitted (:mod:`.recovery`): never votes or campaigns,
        #: and its acknowledgements count towards no quorum.
        self.recovering = recovering
        #: Whether, while recovering, it has held a configuration that makes it a learner.
        self._demoted = recovering and config.id in self.configs.latest().learners
        self.reads = ReadIndexTracker()
        self.role = Role.FOLLOWER
        self.leader: int | None = None
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self._randomized_timeout = config.election_tick
        #: Ticks since this object was created: the lease clock, and a restarted node's quiet time.
        self._ticks = 0
        self._votes: dict[int, bool] = {}
        self._messages: list[Message] = []
        self._read_states: list[ReadState] = []
        self._prev_hard = hard
        self._prev_soft = SoftState(None, Role.FOLLOWER)
        self._ready_outstanding = False
        self._append_pending = False
        self._heartbeat_pending = False
        #: Flaw ``reply_before_persisting_vote``: keep the hard state out of Readies until the
        #: next tick (a lazily flushed vote), while the vote itself has already been sent.
        self._withhold_hard_state = False
        self._reset_timers()

    @property
    def conf(self) -> ConfState:
        """The configuration in force: the latest one in the log, committed or not."""
        return self.configs.latest()

    def hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self.log.committed)

    def _send(self, message: Message) -> None:
        self._messages.append(message)

    def _reset_timers(self) -> None:
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        low, high = self.config.timeout_range
        self._randomized_timeout = self._rng.randint(low, high)

    def _become_follower(self, term: int, leader: int | None) -> None:
        if term != self.term:
            self.term = term
            self.vote = None
        self.role = Role.FOLLOWER
        self.leader = leader
        self._votes.clear()
        self.reads.reset()
        self._append_pending = self._heartbeat_pending = False
        self._reset_timers()

    def _become_pre_candidate(self) -> None:
        self.role = Role.PRE_CANDIDATE
        self.leader = None
        self._votes.clear()
        self._reset_timers()

    def _become_candidate(self) -> None:
        self.term += 1
        self.vote = self.id
        self.role = Role.CANDIDATE
        self.leader = None
        self._votes.clear()
        self._reset_timers()

    def _promotable(self) -> bool:
        return self.id in self.conf.voters and not self.recovering

    def _note_membership(self) -> None:
        """A recovering node is re-admitted by its demotion to learner, then its promotion."""
        if not self.recovering:
            return
        if self.id in self.conf.learners:
            self._demoted = True
        elif self._demoted and self.id in self.conf.voters:
            self.recovering = False
            if self.vote is None:
                # A leader holds this term: never grant a second vote in it (the vote this
                # node may have cast in it before losing its disk is forgotten).
                self.vote = self.leader if self.leader is not None else self.id

    def _in_lease(self) -> bool:
        """Whether to ignore a vote request because a leader was heard from recently."""
        if not self.config.check_quorum:
            return False
        if self.leader is not None and self.election_elapsed < self.config.election_tick:
            return True
        # With leases, a restarted node must also honour a lease it may have acknowledged
        # before crashing: it stays quiet for one election timeout after booting.
        return self.config.read_mode is ReadMode.LEASE and self._ticks < self.config.election_tick

    def _committed_in_term(self) -> bool:
        return self.log.term(self.log.committed) == self.term

    # Implemented by the mixins (declared here so that each mixin can call the others).

    def _become_leader(self) -> None:
        raise NotImplementedError

    def _step_follower(self, m: Message) -> None:
        raise NotImplementedError

    def _leader_read(self, context: bytes, requester: int) -> None:
        raise NotImplementedError

    def _broadcast_heartbeat(self) -> None:
        raise NotImplementedError

    def _release_reads(self) -> None:
        raise NotImplementedError
