"""The Multi-Paxos node: a sans-IO state machine driven by its caller (codex 5.3).

Shaped like :class:`archlab.consensus.raft.RaftNode` (etcd's raft library): no socket, clock,
thread or disk. Inputs: :meth:`~PaxosNode.step` (a message), :meth:`~PaxosNode.tick` (one unit of
logical time), :meth:`~PaxosNode.propose` (a command, on the leader), :meth:`~PaxosNode.campaign`
(start an election now). Outputs: :meth:`~PaxosNode.ready` returns a
:class:`~archlab.consensus.paxos.ready.PaxosReady` (promise and slots to persist, messages to
send, chosen values to apply, in that order) and :meth:`~PaxosNode.advance` acknowledges it.

Every node plays the three Paxos roles: acceptor (:mod:`.acceptor`), learner (:mod:`.core`) and,
when elected, the distinguished proposer (:mod:`.proposer`).
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.consensus.paxos.acceptor import Acceptor
from archlab.consensus.paxos.messages import (
    Accept,
    Accepted,
    InstallSnapshot,
    Learn,
    Learned,
    Message,
    Prepare,
    Probe,
    ProbeReply,
    Promise,
    Reject,
)
from archlab.consensus.paxos.proposer import Proposer
from archlab.consensus.paxos.ready import PaxosReady
from archlab.consensus.paxos.types import Ballot, Role, Snapshot, SoftState
from archlab.consensus.proposal import ProposalRejected


@dataclass(frozen=True, slots=True)
class PaxosStatus:
    id: int
    role: Role
    leader: int | None
    promised: Ballot
    ballot: Ballot
    commit: int
    applied: int
    next_slot: int
    in_flight: int


class PaxosNode(Acceptor, Proposer):
    """One Multi-Paxos server; see the module docstring for the driving contract.

    ``PaxosNode(config, storage, rng, applied=None)`` starts (or restarts) from what ``storage``
    holds.
    """

    @property
    def is_leader(self) -> bool:
        return self.role is Role.LEADER

    @property
    def commit_index(self) -> int:
        return self.commit

    @property
    def applied_index(self) -> int:
        return self.applied

    def status(self) -> PaxosStatus:
        return PaxosStatus(
            self.id,
            self.role,
            self.leader,
            self.promised,
            self.ballot,
            self.commit,
            self.applied,
            self.next_slot,
            len(self._acks),
        )

    # == inputs ==============================================================================

    def tick(self) -> None:
        """One unit of logical time: election timeout, heartbeats, check-quorum."""
        self._ticks += 1
        if self.role is Role.LEADER:
            self._tick_leader()
        else:
            self._tick_election()

    def campaign(self) -> None:
        """Start an election now, as if the election timer had fired."""
        if self.role is not Role.LEADER and self.config.voter:
            self._start_election()

    def propose(self, data: bytes) -> int:
        """Propose ``data`` in the next free slot; returns the slot.

        Raises :class:`ProposalRejected` on a node that is not the leader (with its guess of the
        leader) or with too many proposals in flight. The value may still lose its slot if this
        leader is deposed before a majority accepts it: the caller learns which value the slot
        got from the chosen values it applies.
        """
        if self.role is not Role.LEADER:
            raise ProposalRejected("not the leader", self.leader)
        if len(self._acks) >= self.config.max_inflight:
            raise ProposalRejected("too many proposals in flight", self.id)
        index = self.next_slot
        while index <= self.commit or (index in self.slots and self.slots[index].chosen):
            index += 1  # learned chosen meanwhile (from a Learn of a newer leader): not free
        self.next_slot = index + 1
        self._propose_at(index, data)
        self._choose([index])
        return index

    def read_barrier(self) -> tuple[int, int]:
        """Start a linearizable read without a log round trip: ``(index, round)``.

        Serve the read from the state machine once it has applied ``index`` (the larger of the
        commit index and the top slot of this leader's phase 1: a write completed before is
        either one this leader learned chosen, or one chosen under an earlier ballot, which
        phase 1 found) and
        :meth:`confirmed_round` has reached ``round`` (a majority answered, in this ballot, an
        Accept sent after the read arrived: no higher ballot had taken over by then). Raises
        :class:`ProposalRejected` on a node that is not the leader.
        """
        if self.role is not Role.LEADER:
            raise ProposalRejected("not the leader", self.leader)
        self._read_round = self._round_sent + 1
        return max(self.commit, self._phase1_top), self._read_round

    def confirmed_round(self) -> int:
        """The highest read round a majority of voters answered in this ballot (0: none)."""
        if self.role is not Role.LEADER:
            return 0
        if self.config.flaws.read_without_quorum_check:
            return self._read_round
        rounds = sorted(
            [self._round_sent, *(p.round for p in self.progress.values() if p.voter)],
            reverse=True,
        )
        return rounds[self.quorum - 1] if len(rounds) >= self.quorum else 0

    def step(self, message: Message) -> None:
        """Process a message from a peer."""
        m = message
        if m.dst != self.id:
            raise ValueError(f"message for {m.dst} stepped into node {self.id}")
        if isinstance(m, Accept):
            self._on_accept(m)
        elif isinstance(m, Accepted):
            self._on_accepted(m)
        elif isinstance(m, Prepare):
            self._on_prepare(m)
        elif isinstance(m, Promise):
            self._on_promise(m)
        elif isinstance(m, Probe):
            self._on_probe(m)
        elif isinstance(m, ProbeReply):
            self._on_probe_reply(m)
        elif isinstance(m, Reject):
            self._on_reject(m)
        elif isinstance(m, Learn):
            self._on_learn(m)
        elif isinstance(m, Learned):
            self._on_learned(m)
        elif isinstance(m, InstallSnapshot):
            self._on_install_snapshot(m)
        else:
            raise TypeError(f"not a Multi-Paxos message: {m!r}")

    def compact(self, snapshot: Snapshot) -> None:
        """The caller compacted its storage up to ``snapshot.index`` (an applied slot): drop the
        slots it covers and keep the snapshot for peers that fall behind it."""
        if snapshot.index > self.applied:
            raise ValueError(f"cannot compact at {snapshot.index}: only {self.applied} is applied")
        if snapshot.index <= self.snapshot.index:
            return
        self.snapshot = snapshot
        self.slots = {i: s for i, s in self.slots.items() if i > snapshot.index}
        self._unstable = {i: s for i, s in self._unstable.items() if i > snapshot.index}

    # == outputs =============================================================================

    def has_ready(self) -> bool:
        self._flush()
        return bool(
            self._soft_state() != self._prev_soft
            or self._promised_dirty
            or self._unstable
            or self._snapshot_in is not None
            or self._messages
            or self.commit > max(self.applied, self._snapshot_index_in())
        )

    def ready(self) -> PaxosReady:
        if self._ready_outstanding:
            raise RuntimeError("advance() the previous Ready before asking for another")
        self._flush()
        soft = self._soft_state()
        ready = PaxosReady(
            soft_state=soft if soft != self._prev_soft else None,
            promised=self.promised if self._promised_dirty else None,
            slots=tuple(self._unstable[i] for i in sorted(self._unstable)),
            snapshot=self._snapshot_in,
            messages=tuple(self._messages),
            committed=tuple(self._committed_entries()),
            must_sync=(
                self._promised_dirty or self._accepted_dirty or self._snapshot_in is not None
            ),
        )
        self._accepted_dirty = False
        self._messages = []
        self._unstable = {}
        self._promised_dirty = False
        self._snapshot_in = None
        self._ready_outstanding = True
        return ready

    def advance(self, ready: PaxosReady) -> None:
        if not self._ready_outstanding:
            raise RuntimeError("advance() without an outstanding Ready")
        self._ready_outstanding = False
        if ready.soft_state is not None:
            self._prev_soft = ready.soft_state
        if ready.snapshot is not None:
            self.applied = max(self.applied, ready.snapshot.index)
        if ready.committed:
            self.applied = max(self.applied, ready.committed[-1].slot)

    def _soft_state(self) -> SoftState:
        return SoftState(self.leader, self.role)

    def _snapshot_index_in(self) -> int:
        return self._snapshot_in.index if self._snapshot_in is not None else 0
