"""Linearizable reads without writing the log: ReadIndex and leases (codex 5.3; dissertation §6.4).

The leader numbers its heartbeat broadcasts (*rounds*). A round acknowledged by a majority of
voters proves the leader was still the leader when it sent that round: no other leader can have
committed anything before then. :class:`ReadIndexTracker` keeps, per leadership,

- the tick at which each recent round was sent, and the highest round each peer acknowledged;
- reads waiting for a round: a read arriving while round *r* is the latest sent records
  ``read_index = commit`` and waits for round *r + 1* — a round sent after it arrived — to be
  acknowledged by a majority; then it is released with that index;
- reads that arrived before the leader committed an entry of its own term (until then the
  leader's commit index may be behind what earlier leaders committed, dissertation §6.4 step 1);
  they are admitted when that commit happens.

The lease (``ReadMode.LEASE``) is the same bookkeeping read differently: the highest round a
majority acknowledged started a lease at the tick it was sent; while it lasts, a read is served
at the commit index with no new round. Its safety assumption is spelt out in
:mod:`archlab.consensus.raft.config`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from archlab.consensus.raft.types import ConfState


@dataclass(frozen=True, slots=True)
class PendingRead:
    """A read for ``requester`` (this node or a follower) at ``index`` once ``round`` is acked."""

    context: bytes
    requester: int
    index: int
    round: int


class ReadIndexTracker:
    """Heartbeat rounds, their acknowledgements, and the reads that wait on them."""

    def __init__(self) -> None:
        self.round = 0
        self._sent_at: dict[int, int] = {}
        self._acked: dict[int, int] = {}
        self._pending: deque[PendingRead] = deque()
        #: ``(context, requester)`` waiting for the leader's first commit in its term.
        self.awaiting_commit: list[tuple[bytes, int]] = []

    def reset(self) -> None:
        self.round = 0
        self._sent_at.clear()
        self._acked.clear()
        self._pending.clear()
        self.awaiting_commit.clear()

    def start_round(self, now: int) -> int:
        """Number a new heartbeat round sent at tick ``now``."""
        self.round += 1
        self._sent_at[self.round] = now
        return self.round

    def add(self, context: bytes, requester: int, index: int) -> PendingRead:
        """Queue a read that needs a round started after now; the caller starts that round."""
        read = PendingRead(context, requester, index, self.round + 1)
        self._pending.append(read)
        return read

    def ack(self, peer: int, round_: int) -> None:
        if round_ > self._acked.get(peer, 0):
            self._acked[peer] = round_

    def quorum_round(self, conf: ConfState, self_id: int) -> int:
        """The highest round acknowledged by a majority of ``conf``'s voters (0 if none)."""
        if not conf.voters:
            return 0
        rounds = sorted(
            (self.round if v == self_id else self._acked.get(v, 0) for v in conf.voters),
            reverse=True,
        )
        return rounds[conf.quorum - 1]

    def release(self, conf: ConfState, self_id: int) -> list[PendingRead]:
        """Reads whose round a majority has acknowledged, in arrival order."""
        confirmed = self.quorum_round(conf, self_id)
        released = []
        while self._pending and self._pending[0].round <= confirmed:
            released.append(self._pending.popleft())
        for old in [r for r in self._sent_at if r < confirmed]:
            del self._sent_at[old]
        return released

    def lease_valid(self, conf: ConfState, self_id: int, now: int, lease_ticks: int) -> bool:
        """Whether the latest majority-acknowledged round still holds a lease at tick ``now``."""
        confirmed = self.quorum_round(conf, self_id)
        if confirmed == 0 or confirmed not in self._sent_at:
            return False
        return now < self._sent_at[confirmed] + lease_ticks

    def has_pending(self) -> bool:
        return bool(self._pending)
