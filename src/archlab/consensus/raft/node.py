"""The Raft node: a sans-IO state machine driven by its caller (codex 5.3).

Modelled on etcd's raft library. A :class:`RaftNode` owns no socket, clock, thread or disk:

- **inputs**: :meth:`~RaftNode.step` (a message from a peer), :meth:`~RaftNode.tick` (one unit of
  logical time), :meth:`~RaftNode.propose` / :meth:`~RaftNode.propose_conf_change` (client
  commands, leader only), :meth:`~RaftNode.read_index` (a linearizable read), and
  :meth:`~RaftNode.campaign` (start an election now, as if the timeout fired);
- **outputs**: :meth:`~RaftNode.ready` returns a :class:`~archlab.consensus.raft.Ready` — state
  and entries to persist, then messages to send, a snapshot to install, committed entries to
  apply, read states to serve — and :meth:`~RaftNode.advance` acknowledges that the caller did
  all of it (see :mod:`archlab.consensus.raft.ready` for the order and why it matters).

What it implements (Raft paper Figure 2 and the dissertation):

- **Election** with randomized timeouts drawn from the injected ``random.Random``, **pre-vote**
  (a node asks whether it *could* win before it bumps its term, so a partitioned node rejoining
  does not disrupt the cluster) and **check-quorum** (a leader that has not heard from a majority
  within an election timeout steps down; followers that heard from a leader within one ignore
  vote requests, which also keeps removed servers from disrupting).
- **Replication** with the consistency check, fast backtracking (one round trip per conflicting
  term, using the follower's hint), flow control per follower (probe / replicate / snapshot), a
  no-op appended by every new leader, and commitment only of entries of the leader's own term by
  counting replicas (earlier entries commit indirectly).
- **Persistence**: term, vote, commit index and entries flow out through Ready; on restart the
  node reads them back from its storage.
- **Snapshots**: the caller compacts its storage (:meth:`~RaftNode.snapshot_metadata` gives the
  term and configuration at an applied index); a follower behind the compaction point receives
  the leader's snapshot (one message, no chunking), retried if it seems lost.
- **Reads**: ReadIndex, or leases (:class:`~archlab.consensus.raft.ReadMode`).
- **Membership**: single-server changes in force when appended
  (:mod:`archlab.consensus.raft.membership`), learners.
- **Flaws**: the broken variants of :class:`~archlab.consensus.raft.Flaws`, off by default.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.consensus.proposal import ProposalRejected
from archlab.consensus.raft.election import Elections
from archlab.consensus.raft.membership import ConfChange, apply_change
from archlab.consensus.raft.messages import (
    LEADER_MESSAGES,
    Message,
    ReadIndexRequest,
    VoteRequest,
    VoteResponse,
)
from archlab.consensus.raft.progress import ProgressState
from archlab.consensus.raft.reads import Reads
from archlab.consensus.raft.ready import Ready
from archlab.consensus.raft.replication import Replication
from archlab.consensus.raft.types import (
    ConfState,
    Entry,
    EntryKind,
    HardState,
    Role,
    SnapshotMetadata,
    SoftState,
)


@dataclass(frozen=True, slots=True)
class PeerStatus:
    match: int
    next: int
    state: ProgressState


@dataclass(frozen=True, slots=True)
class Status:
    """A snapshot of a node's state for hosts, tests and dashboards."""

    id: int
    term: int
    vote: int | None
    role: Role
    leader: int | None
    commit: int
    applied: int
    last_index: int
    conf: ConfState
    progress: dict[int, PeerStatus]


class RaftNode(Elections, Replication, Reads):
    """One Raft server; see the module docstring for the driving contract.

    ``RaftNode(config, storage, rng, applied=None)`` starts (or restarts) from what
    ``storage`` holds; ``applied`` is the highest index the caller's state machine already
    reflects (default: the snapshot's index — the caller restores the snapshot and the node
    hands out the committed entries after it again).
    """

    # == public inspection ===================================================================

    @property
    def is_leader(self) -> bool:
        return self.role is Role.LEADER

    @property
    def commit_index(self) -> int:
        return self.log.committed

    @property
    def applied_index(self) -> int:
        return self.log.applied

    def status(self) -> Status:
        progress = {}
        if self.role is Role.LEADER:
            progress = {
                node: PeerStatus(p.match, p.next, p.state)
                for node, p in self.tracker.progress.items()
            }
        return Status(
            id=self.id,
            term=self.term,
            vote=self.vote,
            role=self.role,
            leader=self.leader,
            commit=self.log.committed,
            applied=self.log.applied,
            last_index=self.log.last_index(),
            conf=self.conf,
            progress=progress,
        )

    def snapshot_metadata(self, index: int) -> SnapshotMetadata:
        """Term and configuration at applied ``index``, for the caller's log compaction.

        The caller then stores ``Snapshot(metadata, state_machine_bytes_at_index)`` with
        :meth:`DurableStorage.compact <archlab.consensus.raft.storage.DurableStorage.compact>`.
        """
        if index > self.log.applied:
            raise ValueError(f"cannot snapshot at {index}: only {self.log.applied} is applied")
        term = self.log.term(index)
        if term is None:
            raise ValueError(f"index {index} is already compacted")
        return SnapshotMetadata(index, term, self.configs.at(index))

    # == inputs ==============================================================================

    def tick(self) -> None:
        """One unit of logical time: election timeouts, heartbeats, check-quorum."""
        self._withhold_hard_state = False
        self._ticks += 1
        if self.role is Role.LEADER:
            self._tick_leader()
        else:
            self._tick_election()

    def campaign(self) -> None:
        """Start an election now (pre-vote first if enabled), as if the timeout had fired."""
        if self.role is not Role.LEADER and self._promotable():
            self._hup()

    def propose(self, data: bytes) -> int:
        """Append a command to the leader's log; returns its index.

        Raises :class:`ProposalRejected` on a non-leader. The entry is committed (and reaches
        ``committed_entries``) once a majority stores it; it may also be lost if this leader is
        deposed first — the caller learns which by watching the index it was given.
        """
        if self.role is not Role.LEADER:
            raise ProposalRejected("not the leader", self.leader)
        index = self.log.last_index() + 1
        self._append_as_leader([Entry(self.term, index, data)])
        return index

    def propose_conf_change(self, change: ConfChange) -> int:
        """Append a single-server configuration change; returns its index.

        Raises :class:`ProposalRejected` when not the leader, while an earlier change is
        uncommitted, or before this leader has committed an entry of its term; raises
        :class:`~archlab.consensus.raft.membership.ConfChangeError` for an invalid change.
        """
        if self.role is not Role.LEADER:
            raise ProposalRejected("not the leader", self.leader)
        if self.configs.latest_index() > self.log.committed:
            raise ProposalRejected("an earlier configuration change is uncommitted", self.id)
        if not self._committed_in_term():
            raise ProposalRejected("no entry of this term is committed yet", self.id)
        conf = apply_change(self.conf, change)
        index = self.log.last_index() + 1
        self._append_as_leader([Entry(self.term, index, conf.encode(), EntryKind.CONFIG)])
        return index

    def read_index(self, context: bytes) -> None:
        """Request a linearizable read, tagged ``context``.

        A :class:`~archlab.consensus.raft.types.ReadState` with the same context appears in a
        later Ready: serve the read once the state machine has applied its index. On a
        follower the request is forwarded to the leader. Requests are dropped if leadership
        changes meanwhile (the caller times out and retries); raises
        :class:`ProposalRejected` when no leader is known.
        """
        if self.role is Role.LEADER:
            self._leader_read(context, self.id)
        elif self.leader is not None:
            self._send(ReadIndexRequest(self.id, self.leader, self.term, context))
        else:
            raise ProposalRejected("no leader known", None)

    def step(self, message: Message) -> None:
        """Process a message from a peer."""
        m = message
        if m.dst != self.id:
            raise ValueError(f"message for {m.dst} stepped into node {self.id}")
        if m.term > self.term:
            if isinstance(m, VoteRequest):
                if self._in_lease():
                    return
                if not m.pre_vote:
                    self._become_follower(m.term, None)
            elif isinstance(m, VoteResponse) and m.pre_vote and m.granted:
                pass  # the term is the one the pre-candidate asked about, not a newer one
            else:
                leader = m.src if isinstance(m, LEADER_MESSAGES) else None
                self._become_follower(m.term, leader)
        elif m.term < self.term:
            self._step_stale(m)
            return
        if isinstance(m, VoteRequest):
            self._handle_vote_request(m)
        elif self.role is Role.LEADER:
            self._step_leader(m)
        elif self.role is Role.FOLLOWER:
            self._step_follower(m)
        else:
            self._step_candidate(m)

    # == outputs =============================================================================

    def has_ready(self) -> bool:
        """Whether :meth:`ready` would return something to do."""
        self._flush()
        return bool(
            self._soft_state() != self._prev_soft
            or self._hard_state_for_ready() is not None
            or self.log.unstable.entries
            or self.log.unstable.snapshot is not None
            or self._messages
            or self._read_states
            or self.log.has_next_committed_entries()
        )

    def ready(self) -> Ready:
        """The effects accumulated since the last :meth:`advance`; see :mod:`.ready`."""
        if self._ready_outstanding:
            raise RuntimeError("advance() the previous Ready before asking for another")
        self._flush()
        soft = self._soft_state()
        hard = self._hard_state_for_ready()
        entries = tuple(self.log.unstable_entries())
        snapshot = self.log.unstable.snapshot
        prev = self._prev_hard
        ready = Ready(
            soft_state=soft if soft != self._prev_soft else None,
            hard_state=hard,
            entries=entries,
            snapshot=snapshot,
            messages=tuple(self._messages),
            committed_entries=tuple(self.log.next_committed_entries()),
            read_states=tuple(self._read_states),
            must_sync=bool(entries)
            or snapshot is not None
            or (hard is not None and (hard.term, hard.vote) != (prev.term, prev.vote)),
        )
        self._messages = []
        self._read_states = []
        self._ready_outstanding = True
        return ready

    def advance(self, ready: Ready) -> None:
        """Acknowledge that ``ready`` was persisted, sent, installed and applied."""
        if not self._ready_outstanding:
            raise RuntimeError("advance() without an outstanding Ready")
        self._ready_outstanding = False
        if ready.soft_state is not None:
            self._prev_soft = ready.soft_state
        if ready.hard_state is not None:
            self._prev_hard = ready.hard_state
        if ready.entries:
            last = ready.entries[-1]
            self.log.stable_to(last.index, last.term)
        if ready.snapshot is not None:
            self.log.stable_snap_to(ready.snapshot.index)
            self.log.applied_to(min(ready.snapshot.index, self.log.committed))
        if ready.committed_entries:
            self.log.applied_to(ready.committed_entries[-1].index)

    def _soft_state(self) -> SoftState:
        return SoftState(self.leader, self.role)

    def _hard_state_for_ready(self) -> HardState | None:
        hard = self.hard_state()
        if hard == self._prev_hard or self._withhold_hard_state:
            return None
        return hard

    def _flush(self) -> None:
        """Send what proposals and reads deferred, so one Ready batches them."""
        if self.role is not Role.LEADER:
            self._append_pending = self._heartbeat_pending = False
            return
        if self._append_pending:
            self._append_pending = False
            for peer in self.tracker.peers(self.id):
                self._send_append(peer)
        if self._heartbeat_pending:
            self._heartbeat_pending = False
            self._broadcast_heartbeat()
