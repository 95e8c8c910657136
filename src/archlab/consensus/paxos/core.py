"""The state a Multi-Paxos node carries, its learner, and its role transitions (codex 5.3).

:class:`NodeCore` is the part of :class:`~archlab.consensus.paxos.PaxosNode` the other parts
share: the durable state (the promised ballot, every slot's accepted value and whether it is
known chosen, the snapshot), the volatile state (role, leader, timers, the proposer's ballot and
bookkeeping), the outbox, and the *learner*: a slot becomes chosen when a majority accepted its
value in one ballot (the leader counts) or when the leader says so; the *commit index* is the
longest prefix of chosen slots, and the chosen prefix is handed to the caller in order.

Behaviour lives in two mixins: :mod:`.acceptor` (promises and acceptances, learning from the
leader) and :mod:`.proposer` (elections, phase 1, phase 2, heartbeats, catch-up); :mod:`.node`
assembles them behind the driving API.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.consensus.paxos.config import PaxosConfig
from archlab.consensus.paxos.messages import Message, Promise
from archlab.consensus.paxos.storage import PaxosStorage
from archlab.consensus.paxos.types import ZERO, Ballot, Chosen, Role, Slot, Snapshot, SoftState
from archlab.randomness import RandomSource


@dataclass
class PeerProgress:
    """What a leader knows of one peer."""

    #: The peer's chosen prefix, as it last reported it.
    commit: int = 0
    #: The leader's tick count when it last heard from the peer (check-quorum).
    last_heard: int = 0
    #: The highest slot sent to the peer in a Learn or snapshot, and when.
    learn_sent: int = 0
    learn_tick: int = 0
    #: False once the peer says it is a learner: it gets no proposals, only chosen values.
    voter: bool = True
    #: The highest read round it answered in this ballot.
    round: int = 0


class NodeCore:
    """A Multi-Paxos node's state and transitions; see :class:`PaxosNode` for the API."""

    def __init__(
        self,
        config: PaxosConfig,
        storage: PaxosStorage,
        rng: RandomSource,
        applied: int | None = None,
    ) -> None:
        """Start (or restart) from what ``storage`` holds.

        ``applied`` is the highest slot the caller's state machine already reflects (default:
        the snapshot's index: the caller restores the snapshot and re-applies the rest).
        """
        self.config = config
        self.id = config.id
        self.peers = tuple(sorted(m for m in config.members if m != config.id))
        self.storage = storage
        self._rng = rng
        # -- durable (mirrored from storage) --
        self.promised = storage.promised()
        self.snapshot = storage.snapshot()
        self.slots: dict[int, Slot] = {s.index: s for s in storage.slots()}
        # -- learner --
        self.commit = self.snapshot.index
        self._advance_commit()
        self.applied = self.snapshot.index if applied is None else min(applied, self.commit)
        self.applied = max(self.applied, self.snapshot.index)
        # -- roles and timers --
        self.role = Role.FOLLOWER
        self.leader: int | None = None
        self.ballot = ZERO
        self.max_round = self.promised.round
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self._timeout = config.election_tick
        self._ticks = 0
        # -- proposer (candidate / leader) --
        self._grants: set[int] = set()
        self._promises: dict[int, Promise] = {}
        self.next_slot = max([self.commit, *self.slots]) + 1
        self._acks: dict[int, set[int]] = {}
        self._outgoing: list[int] = []
        self._commit_sent = 0
        #: Read rounds: the latest one asked for, and the latest one sent (ReadIndex).
        self._read_round = 0
        self._round_sent = 0
        #: The highest slot phase 1 of this leadership re-proposed or learned (reads wait for it).
        self._phase1_top = 0
        self.progress: dict[int, PeerProgress] = {}
        # -- effects not yet handed over --
        self._messages: list[Message] = []
        self._unstable: dict[int, Slot] = {}
        self._promised_dirty = False
        self._snapshot_in: Snapshot | None = None
        self._accepted_dirty = False
        self._prev_soft = SoftState(None, Role.FOLLOWER)
        self._ready_outstanding = False
        self._reset_timer()

    @property
    def quorum(self) -> int:
        return self.config.quorum

    def _send(self, message: Message) -> None:
        self._messages.append(message)

    # -- durable state --------------------------------------------------------------------

    def _promise(self, ballot: Ballot) -> None:
        if ballot > self.promised:
            self.promised = ballot
            self._promised_dirty = True
        self.max_round = max(self.max_round, ballot.round)

    def _set_slot(self, slot: Slot) -> None:
        self.slots[slot.index] = slot
        self._unstable[slot.index] = slot
        if not slot.chosen:
            self._accepted_dirty = True  # an acceptance: durable before anyone hears of it

    def _accepted_from(self, first: int) -> tuple[Slot, ...]:
        """Every slot this acceptor holds at or after ``first`` (what a Promise reports)."""
        return tuple(self.slots[i] for i in sorted(self.slots) if i >= first)

    # -- learner --------------------------------------------------------------------------

    def _learn(self, index: int, value: bytes, ballot: Ballot) -> None:
        """``value`` is chosen at ``index``."""
        if index <= self.snapshot.index:
            return
        current = self.slots.get(index)
        if current is not None and current.chosen:
            return  # the first value learned stays (a correct Paxos never chooses two)
        self._set_slot(Slot(index, ballot, value, chosen=True))
        if index == self.commit + 1:
            self._advance_commit()

    def _advance_commit(self) -> None:
        slots = self.slots
        while True:
            slot = slots.get(self.commit + 1)
            if slot is None or not slot.chosen:
                return
            self.commit += 1

    def _install_snapshot(self, snapshot: Snapshot) -> None:
        """Adopt a snapshot from the leader (or a promise) beyond our chosen prefix."""
        if snapshot.index <= self.commit:
            return
        self.snapshot = snapshot
        self.slots = {i: s for i, s in self.slots.items() if i > snapshot.index}
        self._unstable = {i: s for i, s in self._unstable.items() if i > snapshot.index}
        self._snapshot_in = snapshot
        self.commit = snapshot.index
        self._advance_commit()
        self.next_slot = max(self.next_slot, snapshot.index + 1)

    def _committed_entries(self) -> list[Chosen]:
        start = self.applied + 1
        if self._snapshot_in is not None:
            start = max(start, self._snapshot_in.index + 1)
        return [Chosen(i, self.slots[i].value) for i in range(start, self.commit + 1)]

    # -- roles ----------------------------------------------------------------------------

    def _reset_timer(self) -> None:
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        low, high = self.config.timeout_range
        self._timeout = self._rng.randint(low, high)

    def _become_follower(self, leader: int | None) -> None:
        self.role = Role.FOLLOWER
        self.leader = leader
        self.ballot = ZERO
        self._grants.clear()
        self._promises.clear()
        self._acks.clear()
        self._outgoing.clear()
        self.progress.clear()
        self._reset_timer()

    def _hears_leader(self) -> bool:
        """Whether to refuse probes and new ballots: a leader was heard from recently."""
        if not self.config.check_quorum:
            return False
        if self.role is Role.LEADER:
            return True
        return self.leader is not None and self.election_elapsed < self.config.election_tick
