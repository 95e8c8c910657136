"""Linearizable reads without a log round trip for Multi-Paxos and Zab (codex 5.3).

Raft serves reads by ReadIndex; Multi-Paxos's and Zab's servers do the same here, through the
node's two-call interface (:meth:`PaxosNode.read_barrier
<archlab.consensus.paxos.node.PaxosNode.read_barrier>` / :meth:`ZabNode.read_barrier
<archlab.consensus.zab.node.ZabNode.read_barrier>` and ``confirmed_round``):

1. when a read arrives at the leader, it records ``index``, the last position it has proposed
   (after its phase 1 / synchronization, every value chosen before is at or below it), and asks
   for a new *read round*: the next heartbeat (an Accept, a Ping) carries the round number, and
   followers echo it in their answer;
2. once a majority of voters answered that round *in the leader's ballot or epoch*, no other
   leader had taken over when they answered (an acceptor that promised a higher ballot rejects
   the Accept; a follower that moved to a newer epoch ignores the Ping), so no write completed
   before the read arrived is missing from the positions up to ``index``;
3. the read is served from the local state machine once it has applied ``index``.

No clock is involved (the clock-skew nemesis cannot break it, unlike a lease): the cost is one
heartbeat round trip shared by every read that arrives before the round goes out, instead of a
log entry, an fsync and a commit per read. A read waiting when the server loses leadership (or
changes ballot or epoch) is answered ``not-leader``, as a proposal is.
:class:`QuorumReads` is the server-side bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from archlab.consensus.client import Reply
from archlab.consensus.kv import KVStateMachine
from archlab.consensus.proposal import ProposalRejected
from archlab.consensus.replica import not_leader


class BarrierNode(Protocol):
    """What a node offers for quorum-confirmed reads."""

    def read_barrier(self) -> tuple[int, int]: ...

    def confirmed_round(self) -> int: ...

    @property
    def applied_index(self) -> int: ...


@dataclass(slots=True)
class _Read:
    client: int | str
    request_id: int
    key: str
    index: int
    round: int
    leadership: int | None


class QuorumReads:
    """Reads waiting for their round to be confirmed and their index to be applied."""

    def __init__(self) -> None:
        self._waiting: list[_Read] = []

    def __len__(self) -> int:
        return len(self._waiting)

    def start(
        self,
        node: BarrierNode,
        client: int | str,
        request_id: int,
        key: str,
        leadership: int | None,
    ) -> Reply | None:
        """Register a read; a reply at once when this node cannot serve it (not the leader)."""
        try:
            index, round_ = node.read_barrier()
        except ProposalRejected as refused:
            return not_leader(refused.leader)
        self._waiting.append(_Read(client, request_id, key, index, round_, leadership))
        return None

    def serve(
        self,
        node: BarrierNode,
        kv: KVStateMachine,
        leadership: int | None,
        respond: Callable[[int | str, int, Reply], None],
        leader_hint: int | None,
    ) -> None:
        """Answer every read that is confirmed and applied; refuse those of a lost leadership."""
        if not self._waiting:
            return
        confirmed = node.confirmed_round()
        applied = node.applied_index
        still: list[_Read] = []
        for read in self._waiting:
            if read.leadership != leadership:
                respond(read.client, read.request_id, not_leader(leader_hint))
            elif read.round <= confirmed and read.index <= applied:
                respond(read.client, read.request_id, Reply("ok", kv.read(read.key)))
            else:
                still.append(read)
        self._waiting = still
