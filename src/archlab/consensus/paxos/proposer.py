"""The distinguished proposer: election, phase 1 once per ballot, phase 2 per slot (codex 5.3).

**Election.** A follower whose randomized timer fires *probes* (if enabled): it asks every
member whether it would promise a ballot one round above anything seen; members that heard from
a leader within ``election_tick``, or whose chosen prefix is longer than the prober's, say no.
With a majority of yes (itself included) it runs phase 1 for real.

**Phase 1**, once per ballot, covering every slot from the candidate's first unchosen one: the
candidate promises its own ballot, sends ``Prepare(b, from_slot)``, and with a majority of
promises becomes leader. For every slot any promise mentions, it adopts a value reported chosen,
or else re-proposes the value accepted in the highest ballot, and fills every hole below the
highest such slot with a no-op; new commands take the slots after it.

**Phase 2**, per slot: the leader accepts its own proposal, sends ``Accept(b, slot, v)`` to every
peer (batched per Ready, up to ``max_batch`` slots per message), and learns the slot chosen when
a majority, itself included, accepted it. Each heartbeat re-sends what a peer has not
acknowledged and the commit index; a peer whose chosen prefix lags gets the chosen values
(:class:`~archlab.consensus.paxos.messages.Learn`) or the snapshot. A leader that hears a higher
ballot (a Reject) runs phase 1 again above it; with check-quorum, a leader that has not heard
from a majority within ``election_tick`` steps down.

The flaw ``skip_phase1_after_leader_change`` makes a node that takes over go straight to phase 2
with only its own acceptor's knowledge (see :class:`~archlab.consensus.paxos.config.Flaws`).
"""

from __future__ import annotations

from archlab.consensus.paxos.core import NodeCore, PeerProgress
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
from archlab.consensus.paxos.types import Ballot, Chosen, Role, Slot


class Proposer(NodeCore):
    """Elections, phase 1 and phase 2 on the leader's side."""

    # -- time -----------------------------------------------------------------------------

    def _tick_election(self) -> None:
        self.election_elapsed += 1
        if self.election_elapsed >= self._timeout and self.config.voter:
            self._start_election()

    def _start_election(self) -> None:
        if self.config.flaws.skip_phase1_after_leader_change:
            self._take_over_without_phase1()
        elif self.config.probe:
            self._probe()
        else:
            self._prepare()

    def _tick_leader(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        election = self.config.election_tick
        if self.election_elapsed >= election:
            self.election_elapsed = 0
            if self.config.check_quorum:
                heard = sum(
                    1
                    for p in self.progress.values()
                    if p.voter and self._ticks - p.last_heard < election
                )
                if heard + 1 < self.quorum:
                    self._become_follower(None)
                    return
        if self.heartbeat_elapsed >= self.config.heartbeat_tick:
            self.heartbeat_elapsed = 0
            self._heartbeat()

    # -- election and phase 1 -------------------------------------------------------------

    def _next_ballot(self) -> Ballot:
        return Ballot(max(self.max_round, self.promised.round) + 1, self.id)

    def _probe(self) -> None:
        self._become_follower(None)
        self.role = Role.PROBING
        self.ballot = self._next_ballot()
        self._grants = {self.id}
        if len(self._grants) >= self.quorum:
            self._prepare()
            return
        for peer in self.peers:
            self._send(Probe(self.id, peer, self.ballot, self.commit))

    def _on_probe_reply(self, m: ProbeReply) -> None:
        self.max_round = max(self.max_round, m.promised.round)
        if self.role is not Role.PROBING or m.ballot != self.ballot or not m.granted:
            return
        self._grants.add(m.src)
        if len(self._grants) >= self.quorum:
            self._prepare()

    def _prepare(self) -> None:
        """Phase 1a with a fresh ballot above every round seen."""
        ballot = self._next_ballot()
        self._become_follower(None)
        self.role = Role.CANDIDATE
        self.ballot = ballot
        self._promise(ballot)
        first = self.commit + 1
        own = Promise(self.id, self.id, ballot, self._accepted_from(first), self.commit)
        self._promises = {self.id: own}
        if len(self._promises) >= self.quorum:
            self._become_leader()
            return
        for peer in self.peers:
            self._send(Prepare(self.id, peer, ballot, first))

    def _on_promise(self, m: Promise) -> None:
        if self.role is not Role.CANDIDATE or m.ballot != self.ballot:
            return
        self._promises[m.src] = m
        if len(self._promises) >= self.quorum:
            self._become_leader()

    def _on_reject(self, m: Reject) -> None:
        self.max_round = max(self.max_round, m.promised.round)
        if m.ballot != self.ballot:
            return
        if self.role is Role.LEADER:
            self._prepare()  # our followers still trust us: take a ballot above the rejection
        elif self.role is Role.CANDIDATE:
            self._become_follower(None)

    def _take_over_without_phase1(self) -> None:
        """The broken variant: a new ballot, and phase 2 straight from local knowledge."""
        ballot = self._next_ballot()
        self._become_follower(None)
        self.ballot = ballot
        self._promise(ballot)
        first = self.commit + 1
        self._promises = {
            self.id: Promise(self.id, self.id, ballot, self._accepted_from(first), self.commit)
        }
        self._become_leader()

    def _become_leader(self) -> None:
        promises = list(self._promises.values())
        self._promises = {}
        snapshots = [p.snapshot for p in promises if p.snapshot is not None]
        if snapshots:
            self._install_snapshot(max(snapshots, key=lambda s: s.index))
        merged: dict[int, Slot] = {}
        for promise in promises:
            for slot in promise.slots:
                if slot.index <= self.commit:
                    continue
                known = merged.get(slot.index)
                if (
                    known is None
                    or (slot.chosen and not known.chosen)
                    or (not known.chosen and slot.ballot > known.ballot)
                ):
                    merged[slot.index] = slot
        top = max([self.commit, *merged])
        self.role = Role.LEADER
        self.leader = self.id
        self._acks = {}
        self._outgoing = []
        self.next_slot = top + 1
        self._phase1_top = top
        self._reset_timer()
        self.progress = {
            peer: PeerProgress(last_heard=self._ticks, commit=self._reported_commit(peer, promises))
            for peer in self.peers
        }
        self._commit_sent = -1  # announce ourselves (and our commit index) at the next flush
        for index in range(self.commit + 1, top + 1):
            found = merged.get(index)
            if found is not None and found.chosen:
                self._learn(index, found.value, self.ballot)
            else:
                self._propose_at(index, found.value if found is not None else b"")
        self._choose(list(self._acks))

    @staticmethod
    def _reported_commit(peer: int, promises: list[Promise]) -> int:
        return next((p.commit for p in promises if p.src == peer), 0)

    # -- phase 2 --------------------------------------------------------------------------

    def _propose_at(self, index: int, value: bytes) -> None:
        """Accept our own proposal (we promised our ballot) and queue it for the peers."""
        self._set_slot(Slot(index, self.ballot, value))
        self._acks[index] = {self.id}
        self._outgoing.append(index)

    def _choose(self, indexes: list[int]) -> None:
        for index in indexes:
            acks = self._acks.get(index)
            if acks is not None and len(acks) >= self.quorum:
                del self._acks[index]
                self._learn(index, self.slots[index].value, self.ballot)

    def _on_accepted(self, m: Accepted) -> None:
        if self.role is not Role.LEADER or m.ballot != self.ballot:
            return
        progress = self.progress.get(m.src)
        if progress is None:
            return
        progress.last_heard = self._ticks
        progress.commit = max(progress.commit, m.commit)
        progress.round = max(progress.round, m.round)
        for index in m.slots:
            acks = self._acks.get(index)
            if acks is not None:
                acks.add(m.src)
        self._choose(list(m.slots))
        if m.commit < min(m.leader_commit, self.commit):
            # It could not learn everything the commit index told it: send the values, unless a
            # Learn covering them is already on its way (sent less than a heartbeat ago).
            in_flight = progress.learn_sent > m.commit
            if not in_flight or self._ticks - progress.learn_tick >= self.config.heartbeat_tick:
                self._catch_up(m.src)

    def _on_learned(self, m: Learned) -> None:
        if self.role is not Role.LEADER or m.ballot != self.ballot:
            return
        progress = self.progress.get(m.src)
        if progress is None:
            return
        progress.last_heard = self._ticks
        progress.voter = m.voter
        progress.commit = max(progress.commit, m.commit)
        if progress.commit < self.commit:
            self._catch_up(m.src)

    def _flush(self) -> None:
        """Send what proposals and commits deferred, so one Ready batches them."""
        if self.role is not Role.LEADER:
            self._outgoing.clear()
            return
        if self._read_round > self._round_sent:  # reads wait for a round: start one now
            self._round_sent = self._read_round
            self._heartbeat()
        commit_moved = self.commit > self._commit_sent
        if not self._outgoing and not commit_moved:
            return
        entries = [(i, self.slots[i].value) for i in self._outgoing if i in self.slots]
        self._outgoing.clear()
        self._commit_sent = self.commit
        batch = self.config.max_batch
        for peer in self.peers:
            if not entries or not self.progress[peer].voter:
                self._send(Accept(self.id, peer, self.ballot, (), self.commit, self._round_sent))
                continue
            for start in range(0, len(entries), batch):
                chunk = tuple(entries[start : start + batch])
                self._send(Accept(self.id, peer, self.ballot, chunk, self.commit, self._round_sent))

    def _heartbeat(self) -> None:
        """Re-send what each peer has not acknowledged, with the commit index (a peer that
        cannot learn from it answers with its lower chosen prefix, which starts catch-up)."""
        pending = sorted(self._acks)
        batch = self.config.max_batch
        self._commit_sent = self.commit
        for peer in self.peers:
            voter = self.progress[peer].voter
            unacked = [i for i in pending if voter and peer not in self._acks[i]][:batch]
            entries = tuple((i, self.slots[i].value) for i in unacked)
            self._send(Accept(self.id, peer, self.ballot, entries, self.commit, self._round_sent))

    def _catch_up(self, peer: int) -> None:
        progress = self.progress[peer]
        first = progress.commit + 1
        progress.learn_tick = self._ticks
        if first <= self.snapshot.index:
            self._send(InstallSnapshot(self.id, peer, self.ballot, self.snapshot))
            progress.learn_sent = self.snapshot.index
            return
        last = min(self.commit, first + self.config.max_batch - 1)
        chosen = tuple(
            Chosen(i, self.slots[i].value)
            for i in range(first, last + 1)
            if i in self.slots and self.slots[i].chosen
        )
        if chosen:
            self._send(Learn(self.id, peer, self.ballot, chosen))
            progress.learn_sent = last
