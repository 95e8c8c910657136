"""Fast Leader Election, as ZooKeeper runs it before Zab's phase 1 (codex 5.3).

A *looking* node votes for itself — ``(current epoch, last zxid, id)`` — and tells every peer.
Votes are compared in that order (a more recent epoch, then a longer history, then a higher id).
Within an election *round* a node adopts any better vote it hears and tells everybody again; a
notification from a later round moves it to that round with its own vote reconsidered, and one
from an earlier round is answered with its current vote so the sender catches up. When a quorum
(itself included) votes like it, it waits ``finalize_ticks`` for a better vote, then decides:
the winner leads, the others follow it.

A node that is already following or leading answers a looking node with its leader; a looking
node that hears from a leading one follows it (a restarted node rejoins this way; an observer
only ever joins this way, its votes being ignored). Whichever
node wins, discovery makes it learn the most up-to-date history of a quorum, so election
affects who leads, never what is committed.
"""

from __future__ import annotations

from archlab.consensus.zab.core import NodeCore
from archlab.consensus.zab.messages import Notification
from archlab.consensus.zab.types import Phase, ServerState, Vote


class Election(NodeCore):
    """The looking state."""

    def _start_looking(self) -> None:
        self._reset_roles()
        self.state = ServerState.LOOKING
        self.phase = Phase.ELECTION
        election = self.election
        election.round += 1
        election.vote = self._own_vote()
        election.received = {self.id: election.vote}
        election.decide_at = None
        self._reset_timer()
        self._broadcast_vote()
        self._check_votes()

    def _broadcast_vote(self) -> None:
        e = self.election
        voter = self.config.voter
        for peer in self.peers:
            self._send(Notification(self.id, peer, e.round, e.vote, ServerState.LOOKING, voter))

    def _tick_looking(self) -> None:
        self.heartbeat_elapsed += 1
        decide_at = self.election.decide_at
        if decide_at is not None and self._ticks >= decide_at:
            self._decide()
            return
        if self.heartbeat_elapsed >= self.config.heartbeat_tick:
            self.heartbeat_elapsed = 0
            self._broadcast_vote()  # notifications may be lost: say it again

    def _current_vote(self) -> Vote:
        """What a following or leading node answers: its leader, and its epoch."""
        leader = self.leader if self.leader is not None else self.id
        return Vote(self.epoch, self.history.last_zxid, leader)

    def _on_notification(self, m: Notification) -> None:
        e = self.election
        if self.state is not ServerState.LOOKING:
            if m.state is ServerState.LOOKING:
                self._send(Notification(self.id, m.src, m.round, self._current_vote(), self.state))
            return
        if m.state is not ServerState.LOOKING:
            if m.state is ServerState.LEADING and m.vote.leader == m.src:
                self._become_following(m.src)
            elif m.state is ServerState.FOLLOWING and m.vote.leader != self.id:
                # Ask the leader it names directly; it answers LEADING if it still is.
                self._send(
                    Notification(
                        self.id,
                        m.vote.leader,
                        e.round,
                        e.vote,
                        ServerState.LOOKING,
                        self.config.voter,
                    )
                )
            return
        if not m.voter or not self.config.voter:
            return  # an observer's vote counts for nothing; an observer waits for a leader
        if m.round > e.round:
            e.round = m.round
            e.received = {}
            e.vote = max(self._own_vote(), m.vote)
            e.received[self.id] = e.vote
            self._broadcast_vote()
        elif m.round < e.round:
            self._send(Notification(self.id, m.src, e.round, e.vote, ServerState.LOOKING))
            return
        elif m.vote > e.vote:
            e.vote = m.vote
            e.received[self.id] = e.vote
            self._broadcast_vote()
        e.received[m.src] = m.vote
        self._check_votes()

    def _check_votes(self) -> None:
        if not self.config.voter:
            return
        e = self.election
        agreeing = sum(1 for vote in e.received.values() if vote == e.vote)
        if agreeing < self.quorum:
            e.decide_at = None
            return
        if e.decide_at is None:
            e.decide_at = self._ticks + self.config.finalize_ticks
        if self.config.finalize_ticks == 0 or len(e.received) == len(self.config.members):
            self._decide()  # nobody left to hear from

    def _decide(self) -> None:
        leader = self.election.vote.leader
        if leader == self.id:
            self._become_leading()
        else:
            self._become_following(leader)
