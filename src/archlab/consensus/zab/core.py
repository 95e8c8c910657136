"""The state a Zab node carries, delivery, and the effects it queues (codex 5.3).

:class:`NodeCore` is the part of :class:`~archlab.consensus.zab.ZabNode` every other part uses:
the durable state (accepted and current epochs, the
:class:`~archlab.consensus.zab.history.History`),
the volatile state (server state and phase, leader, timers, the election's, the follower's and
the leader's bookkeeping), the outbox, what changed since the last Ready, and *delivery*: the
committed prefix of the history, handed to the caller in order.

Behaviour lives in mixins, one concern each: :mod:`.election` (Fast Leader Election),
:mod:`.follower` and :mod:`.leader` (discovery, synchronization, broadcast from either side);
:mod:`.node` assembles them behind the driving API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archlab.consensus.zab.config import ZabConfig
from archlab.consensus.zab.history import History
from archlab.consensus.zab.messages import AckEpoch, FollowerInfo, Message
from archlab.consensus.zab.storage import ZabStorage
from archlab.consensus.zab.types import (
    ZERO,
    Delivered,
    HardState,
    Phase,
    ServerState,
    Snapshot,
    SoftState,
    Txn,
    Vote,
    Zxid,
)
from archlab.randomness import RandomSource


@dataclass
class FollowerView:
    """What a leader knows of one follower."""

    attempt: int
    last_heard: int
    info: FollowerInfo | None = None
    ack_epoch: AckEpoch | None = None
    #: Sent its history (NEWLEADER) in this epoch; acknowledged it (an Ack of this epoch).
    syncing: bool = False
    synced: bool = False
    acked: Zxid = ZERO
    resend_tick: int = -1
    #: False for an observer: synchronized and sent everything, counted in no quorum.
    voter: bool = True
    #: The highest read round it acknowledged in this epoch.
    round: int = 0


@dataclass
class ElectionState:
    round: int = 0
    vote: Vote = field(default_factory=lambda: Vote(0, ZERO, 0))
    received: dict[int, Vote] = field(default_factory=dict)
    decide_at: int | None = None


class ZabSafetyError(RuntimeError):
    """The node was asked to do something only a broken protocol asks (e.g. truncate a delivered
    transaction): it refuses rather than corrupt its state."""


class NodeCore:
    """A Zab node's state; see :class:`ZabNode` for the API."""

    def __init__(
        self,
        config: ZabConfig,
        storage: ZabStorage,
        rng: RandomSource,
        applied: int | None = None,
    ) -> None:
        """Start (or restart) from what ``storage`` holds, looking for a leader.

        ``applied`` is the history position the caller's state machine already reflects
        (default: the snapshot's: the caller restores the snapshot).
        """
        self.config = config
        self.id = config.id
        self.peers = tuple(sorted(m for m in config.members if m != config.id))
        self.storage = storage
        self._rng = rng
        hard = storage.hard_state()
        self.accepted_epoch = hard.accepted_epoch
        self.current_epoch = hard.current_epoch
        self.history = History(storage.snapshot(), storage.txns())
        # Delivery: positions up to ``committed`` are known committed; the caller has applied
        # up to ``applied``. Nothing above the snapshot is known committed after a restart.
        # (The caller applies only committed transactions, so what it applied is committed.)
        base = self.history.base
        self.applied = base if applied is None else max(base, min(applied, self.history.length))
        self.committed = self.applied
        # Roles.
        self.state = ServerState.LOOKING
        self.phase = Phase.ELECTION
        self.leader: int | None = None
        #: The epoch this node is working in as leader or follower (the NEWEPOCH's).
        self.epoch = 0
        self.election = ElectionState()
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self._timeout = config.election_tick
        self._ticks = 0
        # Follower side.
        self.attempt = 0
        self._last_ack_epoch: AckEpoch | None = None
        # Leader side.
        self.followers: dict[int, FollowerView] = {}
        self._infos: dict[int, FollowerInfo] = {}
        self._epoch_acks: dict[int, AckEpoch] = {}
        self._leading_since = 0
        self.commit_zxid = self.history.snapshot.zxid
        self._commit_sent = self.commit_zxid
        self._outgoing: list[Txn] = []
        #: Read rounds: the latest one asked for, and the latest one sent (ReadIndex).
        self._read_round = 0
        self._round_sent = 0
        #: Zxid of the last transaction of the initial history (established once committed).
        self._initial_last = ZERO
        # Effects not handed over yet.
        self._messages: list[Message] = []
        self._hard_dirty = False
        self._dirty_from: int | None = None
        self._snapshot_in: Snapshot | None = None
        self._prev_soft = SoftState(None, ServerState.LOOKING, Phase.ELECTION)
        self._prev_hard = hard
        self._ready_outstanding = False
        self._reset_timer()

    @property
    def quorum(self) -> int:
        return self.config.quorum

    def hard_state(self) -> HardState:
        return HardState(self.accepted_epoch, self.current_epoch)

    def _send(self, message: Message) -> None:
        self._messages.append(message)

    def _reset_timer(self) -> None:
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        low, high = self.config.timeout_range
        self._timeout = self._rng.randint(low, high)

    # -- durable changes ------------------------------------------------------------------

    def _set_epochs(self, accepted: int | None = None, current: int | None = None) -> None:
        if accepted is not None and accepted != self.accepted_epoch:
            self.accepted_epoch = accepted
            self._hard_dirty = True
        if current is not None and current != self.current_epoch:
            self.current_epoch = current
            self._hard_dirty = True

    def _touch(self, position: int) -> None:
        """The durable history changes from ``position`` on."""
        if self._dirty_from is None or position < self._dirty_from:
            self._dirty_from = position

    def _append(self, txn: Txn) -> None:
        self._touch(self.history.length + 1)
        self.history.append(txn)

    def _truncate(self, position: int) -> None:
        if position < self.committed:
            raise ZabSafetyError(
                f"node {self.id}: truncating to {position} would drop delivered transactions "
                f"(committed up to {self.committed})"
            )
        if position < self.history.length:
            self._touch(position + 1)
            self.history.truncate(position)

    def _install(self, snapshot: Snapshot) -> None:
        self.history.install(snapshot)
        self._snapshot_in = snapshot
        self._dirty_from = snapshot.length + 1
        self.committed = max(self.committed, snapshot.length)

    # -- delivery -------------------------------------------------------------------------

    def _commit_upto(self, zxid: Zxid) -> None:
        """Everything in our history up to ``zxid`` is committed (the leader says so)."""
        position = self.history.last_position_upto(zxid)
        self.committed = max(self.committed, position)

    def _deliverable(self) -> list[Delivered]:
        start = self.applied + 1
        if self._snapshot_in is not None:
            start = max(start, self._snapshot_in.length + 1)
        start = max(start, self.history.base + 1)
        if self.committed < start:
            return []
        return [
            Delivered(p, txn.zxid, txn.data)
            for p, txn in enumerate(
                self.history.after(start - 1, self.committed - start + 1), start
            )
        ]

    # -- roles ----------------------------------------------------------------------------

    def _reset_roles(self) -> None:
        self.leader = None
        self.followers.clear()
        self._infos.clear()
        self._epoch_acks.clear()
        self._outgoing.clear()
        self._last_ack_epoch = None
        self.election.decide_at = None

    # Implemented by the mixins (declared here so that each mixin can call the others).

    def _start_looking(self) -> None:
        raise NotImplementedError

    def _become_following(self, leader: int) -> None:
        raise NotImplementedError

    def _become_leading(self) -> None:
        raise NotImplementedError

    def _own_vote(self) -> Vote:
        return Vote(self.current_epoch, self.history.last_zxid, self.id)
