"""Leader election: randomized timeouts, pre-vote, votes and their rules (codex 5.3).

A follower whose election timer fires (after a timeout drawn uniformly from the configured range
by the injected ``random.Random``) starts a campaign. With pre-vote it first becomes a
*pre-candidate* and asks, for term + 1, whether it would be elected — without anybody changing
term — and only on a majority of yes campaigns for real: term + 1, a vote for itself, and
RequestVote to every voter. A voter grants at most one vote per term, only to a candidate whose
log is at least as up to date as its own (Raft §5.4.1), and, with check-quorum, ignores
requests entirely while it hears from a leader (see :meth:`NodeCore._in_lease`).
"""

from __future__ import annotations

from archlab.consensus.raft.core import NodeCore
from archlab.consensus.raft.messages import (
    LEADER_MESSAGES,
    AppendEntries,
    AppendResponse,
    Heartbeat,
    Message,
    VoteRequest,
    VoteResponse,
)
from archlab.consensus.raft.progress import VoteResult
from archlab.consensus.raft.types import Role


class Elections(NodeCore):
    """Timeouts, campaigns and votes."""

    def _tick_election(self) -> None:
        self.election_elapsed += 1
        if self._promotable() and self.election_elapsed >= self._randomized_timeout:
            self.election_elapsed = 0
            self._hup()

    def _hup(self) -> None:
        self._campaign(pre_vote=self.config.pre_vote)

    def _campaign(self, pre_vote: bool) -> None:
        if pre_vote:
            self._become_pre_candidate()
            term = self.term + 1
        else:
            self._become_candidate()
            term = self.term
        self._votes[self.id] = True
        if self.tracker.vote_result(self._votes) is VoteResult.WON:
            if pre_vote:
                self._campaign(pre_vote=False)
            else:
                self._become_leader()
            return
        last_index, last_term = self.log.last_index(), self.log.last_term()
        for voter in sorted(self.conf.voters):
            if voter != self.id:
                self._send(VoteRequest(self.id, voter, term, last_index, last_term, pre_vote))

    def _handle_vote_request(self, m: VoteRequest) -> None:
        can_vote = (
            self.vote == m.src
            or (self.vote is None and self.leader is None)
            or (m.pre_vote and m.term > self.term)
        )
        up_to_date = self.config.flaws.grant_vote_without_log_check or self.log.is_up_to_date(
            m.last_index, m.last_term
        )
        if self.recovering or not (can_vote and up_to_date):
            self._send(VoteResponse(self.id, m.src, self.term, False, m.pre_vote))
            return
        if m.pre_vote:
            self._send(VoteResponse(self.id, m.src, m.term, True, True))
            return
        self.election_elapsed = 0
        self.vote = m.src
        if self.config.flaws.reply_before_persisting_vote:
            self._withhold_hard_state = True
        self._send(VoteResponse(self.id, m.src, self.term, True, False))

    def _step_candidate(self, m: Message) -> None:
        if isinstance(m, LEADER_MESSAGES):
            self._become_follower(m.term, m.src)
            self._step_follower(m)
            return
        if not isinstance(m, VoteResponse):
            return
        pre = self.role is Role.PRE_CANDIDATE
        if m.pre_vote != pre or (pre and m.granted and m.term != self.term + 1):
            return
        self._votes.setdefault(m.src, m.granted)
        result = self.tracker.vote_result(self._votes)
        if result is VoteResult.WON:
            if pre:
                self._campaign(pre_vote=False)
            else:
                self._become_leader()
        elif result is VoteResult.LOST:
            self._become_follower(self.term, None)

    def _step_stale(self, m: Message) -> None:
        """A message from an older term: tell a stale leader or pre-candidate the news."""
        if isinstance(m, AppendEntries | Heartbeat):
            self._send(AppendResponse(self.id, m.src, self.term, 0, reject=True))
        elif isinstance(m, VoteRequest) and m.pre_vote:
            self._send(VoteResponse(self.id, m.src, self.term, False, True))
