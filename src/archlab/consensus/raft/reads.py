"""The leader's side of linearizable reads: ReadIndex and leases (codex 5.3).

The bookkeeping (heartbeat rounds, acknowledgements, pending reads, the lease) is
:class:`~archlab.consensus.raft.readonly.ReadIndexTracker`; this mixin wires it into the node:
a read waits for the leader's first commit in its term, then is either served at once under a
valid lease or queued for the next heartbeat round (broadcast when the next Ready is built, so
reads arriving together share one round), and released to its requester — this node as a
:class:`~archlab.consensus.raft.types.ReadState`, a follower as a ReadIndexResponse.
"""

from __future__ import annotations

from archlab.consensus.raft.config import ReadMode
from archlab.consensus.raft.core import NodeCore
from archlab.consensus.raft.messages import Heartbeat, ReadIndexResponse
from archlab.consensus.raft.readonly import PendingRead
from archlab.consensus.raft.types import ReadState


class Reads(NodeCore):
    """ReadIndex and lease reads on the leader."""

    def _leader_read(self, context: bytes, requester: int) -> None:
        if not self._committed_in_term():
            self.reads.awaiting_commit.append((context, requester))
            return
        index = self.log.committed
        if self.config.read_mode is ReadMode.LEASE and self.reads.lease_valid(
            self.conf, self.id, self._ticks, self.config.lease_ticks
        ):
            self._deliver_read(PendingRead(context, requester, index, 0))
            return
        self.reads.add(context, requester, index)
        self._heartbeat_pending = True

    def _broadcast_heartbeat(self) -> None:
        round_ = self.reads.start_round(self._ticks)
        for peer in self.tracker.peers(self.id):
            progress = self.tracker.progress[peer]
            commit = min(progress.match, self.log.committed)
            self._send(Heartbeat(self.id, peer, self.term, commit, round_))
        self._release_reads()

    def _release_reads(self) -> None:
        for read in self.reads.release(self.conf, self.id):
            self._deliver_read(read)

    def _deliver_read(self, read: PendingRead) -> None:
        if read.requester == self.id:
            self._read_states.append(ReadState(read.index, read.context))
        else:
            self._send(
                ReadIndexResponse(self.id, read.requester, self.term, read.context, read.index)
            )
