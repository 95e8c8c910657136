"""The Zab node: a sans-IO state machine driven by its caller (codex 5.3).

Shaped like :class:`archlab.consensus.raft.RaftNode`: no socket, clock, thread or disk. Inputs:
:meth:`~ZabNode.step` (a message), :meth:`~ZabNode.tick` (one unit of logical time),
:meth:`~ZabNode.propose` (a transaction, on an established leader). Outputs:
:meth:`~ZabNode.ready` returns a :class:`~archlab.consensus.zab.ready.ZabReady` (epochs and
history to persist, messages to send, committed transactions to deliver, in that order) and
:meth:`~ZabNode.advance` acknowledges it. A node starts *looking*: it sends its vote at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.consensus.proposal import ProposalRejected
from archlab.consensus.zab.config import ZabConfig
from archlab.consensus.zab.election import Election
from archlab.consensus.zab.follower import Follower
from archlab.consensus.zab.leader import Leader
from archlab.consensus.zab.messages import (
    Ack,
    AckEpoch,
    Commit,
    FollowerInfo,
    Message,
    NewEpoch,
    NewLeader,
    Notification,
    Ping,
    Proposal,
)
from archlab.consensus.zab.ready import ZabReady
from archlab.consensus.zab.storage import ZabStorage
from archlab.consensus.zab.types import Phase, ServerState, Snapshot, SoftState, Zxid
from archlab.randomness import RandomSource


@dataclass(frozen=True, slots=True)
class ZabStatus:
    id: int
    state: ServerState
    phase: Phase
    leader: int | None
    accepted_epoch: int
    current_epoch: int
    epoch: int
    last_zxid: Zxid
    commit_zxid: Zxid
    committed: int
    applied: int
    length: int


class ZabNode(Election, Follower, Leader):
    """One Zab server; ``ZabNode(config, storage, rng, applied=None)``."""

    def __init__(
        self,
        config: ZabConfig,
        storage: ZabStorage,
        rng: RandomSource,
        applied: int | None = None,
    ) -> None:
        super().__init__(config, storage, rng, applied)
        self._start_looking()

    @property
    def is_leader(self) -> bool:
        return self.state is ServerState.LEADING

    @property
    def established(self) -> bool:
        """Leading with its epoch established: it takes proposals."""
        return self.is_leader and self.phase is Phase.BROADCAST

    @property
    def applied_index(self) -> int:
        return self.applied

    def status(self) -> ZabStatus:
        return ZabStatus(
            self.id,
            self.state,
            self.phase,
            self.leader,
            self.accepted_epoch,
            self.current_epoch,
            self.epoch,
            self.history.last_zxid,
            self.commit_zxid,
            self.committed,
            self.applied,
            self.history.length,
        )

    # == inputs ==============================================================================

    def tick(self) -> None:
        self._ticks += 1
        if self.state is ServerState.LEADING:
            self._tick_leading()
        elif self.state is ServerState.FOLLOWING:
            self._tick_following()
        else:
            self._tick_looking()

    def propose(self, data: bytes) -> tuple[int, Zxid]:
        """Append a transaction to the established leader's history; returns its position and
        zxid. Raises :class:`ProposalRejected` elsewhere (with the known leader, if any)."""
        if not self.established:
            hint = self.leader if self.leader != self.id else None
            raise ProposalRejected(f"not an established leader ({self.phase.value})", hint)
        in_flight = self.history.length - self.committed
        if in_flight >= self.config.max_inflight:
            raise ProposalRejected("too many proposals in flight", self.id)
        return self._propose(data)

    def read_barrier(self) -> tuple[int, int]:
        """Start a linearizable read without a log round trip: ``(position, round)``.

        Serve it once the state machine has applied ``position`` (the leader's committed
        prefix: established, it has committed its initial history, which holds every
        transaction committed before its epoch, and it answered its own writes once committed)
        and :meth:`confirmed_round` has reached ``round`` (a quorum acknowledged, in this epoch,
        a Ping sent after the read arrived: none of them had moved to a newer epoch). Raises
        :class:`ProposalRejected` unless this node is an established leader.
        """
        if not self.established:
            hint = self.leader if self.leader != self.id else None
            raise ProposalRejected(f"not an established leader ({self.phase.value})", hint)
        self._read_round = self._round_sent + 1
        return self.committed, self._read_round

    def confirmed_round(self) -> int:
        """The highest read round a quorum acknowledged in this epoch (0: none)."""
        if not self.established:
            return 0
        if self.config.flaws.read_without_quorum_check:
            return self._read_round
        rounds = sorted(
            [
                self._round_sent,
                *(v.round for v in self.followers.values() if v.synced and v.voter),
            ],
            reverse=True,
        )
        return rounds[self.quorum - 1] if len(rounds) >= self.quorum else 0

    def step(self, message: Message) -> None:
        m = message
        if m.dst != self.id:
            raise ValueError(f"message for {m.dst} stepped into node {self.id}")
        if isinstance(m, Proposal):
            self._on_proposal(m)
        elif isinstance(m, Ack):
            self._on_ack(m)
        elif isinstance(m, Commit):
            self._on_commit(m)
        elif isinstance(m, Ping):
            self._on_ping(m)
        elif isinstance(m, Notification):
            self._on_notification(m)
        elif isinstance(m, FollowerInfo):
            self._on_follower_info(m)
        elif isinstance(m, NewEpoch):
            self._on_new_epoch(m)
        elif isinstance(m, AckEpoch):
            self._on_ack_epoch(m)
        elif isinstance(m, NewLeader):
            self._on_new_leader(m)
        else:
            raise TypeError(f"not a Zab message: {m!r}")

    def compact(self, snapshot: Snapshot) -> None:
        """The caller compacted its storage up to ``snapshot.length`` (a delivered position)."""
        if snapshot.length > self.applied:
            raise ValueError(f"cannot compact at {snapshot.length}: only {self.applied} applied")
        self.history.compact(snapshot)

    def snapshot_at(self, position: int, data: bytes) -> Snapshot:
        """A snapshot of the state machine ``data`` taken after applying ``position``."""
        if position > self.applied or position < self.history.base:
            raise ValueError(f"position {position} is not applied above the snapshot")
        return Snapshot(
            self.history.zxid_at(position), position, self.history.segments_upto(position), data
        )

    # == outputs =============================================================================

    def has_ready(self) -> bool:
        self._flush()
        return bool(
            self._soft_state() != self._prev_soft
            or self._hard_dirty
            or self._dirty_from is not None
            or self._messages
            or self.committed > self.applied
        )

    def ready(self) -> ZabReady:
        if self._ready_outstanding:
            raise RuntimeError("advance() the previous Ready before asking for another")
        self._flush()
        soft = self._soft_state()
        dirty = self._dirty_from
        ready = ZabReady(
            soft_state=soft if soft != self._prev_soft else None,
            hard_state=self.hard_state() if self._hard_dirty else None,
            snapshot=self._snapshot_in,
            history_from=dirty,
            txns=tuple(self.history.after(dirty - 1)) if dirty is not None else (),
            messages=tuple(self._messages),
            committed=tuple(self._deliverable()),
        )
        self._messages = []
        self._hard_dirty = False
        self._dirty_from = None
        self._snapshot_in = None
        self._ready_outstanding = True
        return ready

    def advance(self, ready: ZabReady) -> None:
        if not self._ready_outstanding:
            raise RuntimeError("advance() without an outstanding Ready")
        self._ready_outstanding = False
        if ready.soft_state is not None:
            self._prev_soft = ready.soft_state
        if ready.snapshot is not None:
            self.applied = max(self.applied, ready.snapshot.length)
        if ready.committed:
            self.applied = max(self.applied, ready.committed[-1].position)

    def _soft_state(self) -> SoftState:
        return SoftState(self.leader, self.state, self.phase)
