"""The acceptor (and the learner's inputs): promises, acceptances, chosen values (codex 5.3).

An acceptor's two rules are all of Paxos's safety:

- **Phase 1b**: on ``Prepare(b)`` with ``b`` at least its promised ballot, it promises ``b`` (no
  acceptance of a lower ballot from now on) and reports every value it accepted, or knows
  chosen, from the proposer's first unchosen slot on; on a lower ballot it rejects.
- **Phase 2b**: on ``Accept(b, slot, v)`` with ``b`` at least its promised ballot, it accepts
  ``(b, v)`` for the slot and says so.

Both the promise and the acceptance reach the disk before the reply leaves (the Ready order).
The same Accept carries the leader's commit index: every slot up to it whose value this node
accepted *in the leader's ballot* is the leader's value there, hence chosen; slots it accepted
in an older ballot (or never saw) it learns from :class:`~archlab.consensus.paxos.messages.Learn`.
A node that heard from a leader within an election timeout ignores probes and Prepares from
anybody else (liveness only: ignoring a message is always safe). A learner
(``PaxosConfig.voter=False``) ignores both and answers an Accept with its chosen prefix only.
"""

from __future__ import annotations

from archlab.consensus.paxos.core import NodeCore
from archlab.consensus.paxos.messages import (
    Accept,
    Accepted,
    InstallSnapshot,
    Learn,
    Learned,
    Prepare,
    Probe,
    ProbeReply,
    Promise,
    Reject,
)
from archlab.consensus.paxos.types import Role, Slot


class Acceptor(NodeCore):
    """Phase 1b, phase 2b, and learning what the leader reports chosen."""

    def _on_probe(self, m: Probe) -> None:
        granted = (
            self.config.voter
            and not self._hears_leader()
            and m.ballot > self.promised
            and m.commit >= self.commit
        )
        self._send(ProbeReply(self.id, m.src, m.ballot, granted, self.promised))

    def _on_prepare(self, m: Prepare) -> None:
        if not self.config.voter:
            return
        if m.ballot < self.promised:
            self._send(Reject(self.id, m.src, m.ballot, self.promised))
            return
        if m.ballot > self.promised:
            if self._hears_leader() and m.src != self.leader:
                return
            self._promise(m.ballot)
            if self.role is not Role.FOLLOWER or self.leader != m.src:
                self._become_follower(None)
        snapshot = self.snapshot if self.snapshot.index >= m.from_slot else None
        first = max(m.from_slot, self.snapshot.index + 1)
        self._send(
            Promise(self.id, m.src, m.ballot, self._accepted_from(first), self.commit, snapshot)
        )

    def _on_accept(self, m: Accept) -> None:
        if not self.config.voter:
            self.leader = m.src
            self.election_elapsed = 0
            self._send(Learned(self.id, m.src, m.ballot, self.commit, voter=False))
            return
        if m.ballot < self.promised:
            self._send(Reject(self.id, m.src, m.ballot, self.promised))
            return
        self._promise(m.ballot)
        if self.role is not Role.FOLLOWER or self.leader != m.src:
            self._become_follower(m.src)
        self.election_elapsed = 0
        accepted: list[int] = []
        for index, value in m.entries:
            if index <= self.snapshot.index:
                accepted.append(index)  # chosen long ago: a correct leader proposes that value
                continue
            current = self.slots.get(index)
            if current is not None and current.chosen:
                if current.value == value:
                    accepted.append(index)
                continue
            if current is None or current.ballot != m.ballot or current.value != value:
                self._set_slot(Slot(index, m.ballot, value))
            accepted.append(index)
        self._learn_commit(m)
        self._send(
            Accepted(self.id, m.src, m.ballot, tuple(accepted), self.commit, m.commit, m.round)
        )

    def _learn_commit(self, m: Accept) -> None:
        """Slots up to the leader's commit index that we accepted in its ballot are chosen."""
        for index in range(self.commit + 1, m.commit + 1):
            slot = self.slots.get(index)
            if slot is not None and not slot.chosen and slot.ballot == m.ballot:
                self._learn(index, slot.value, m.ballot)

    def _on_learn(self, m: Learn) -> None:
        # Chosen values are chosen whoever reports them; only the current leader resets the timer.
        if m.ballot == self.promised and self.role is Role.FOLLOWER:
            self.leader = m.src
            self.election_elapsed = 0
        for chosen in m.chosen:
            self._learn(chosen.slot, chosen.value, m.ballot)
        self._send(Learned(self.id, m.src, m.ballot, self.commit, self.config.voter))

    def _on_install_snapshot(self, m: InstallSnapshot) -> None:
        if m.ballot == self.promised and self.role is Role.FOLLOWER:
            self.leader = m.src
            self.election_elapsed = 0
        self._install_snapshot(m.snapshot)
        self._send(Learned(self.id, m.src, m.ballot, self.commit, self.config.voter))
