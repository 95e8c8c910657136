"""Multi-Paxos's knobs, and the deliberately broken variant kept for tests (codex 5.3).

Time is counted in ticks, as in :mod:`archlab.consensus.raft.config`: the host decides how long
a tick is. A follower that hears nothing from a leader for its randomized election timeout
(uniform in ``[election_tick, election_tick_max]``, ``[T, 2T)`` by default, drawn from the
injected ``random.Random`` at every reset) probes, then runs phase 1. The leader sends an
:class:`~archlab.consensus.paxos.messages.Accept` to every peer each ``heartbeat_tick`` ticks
(retransmitting the slots that peer has not acknowledged, carrying the commit index).

**Leader election** is by randomized timeouts, a *probe* round before phase 1 (granted only by
nodes that have not heard from a leader within ``election_tick`` and whose chosen prefix is not
longer than the prober's) and *check-quorum* (a leader that has not heard from a majority
within ``election_tick`` steps down). None of it matters for safety, which rests on ballots and
phase 1 alone; it keeps a node cut off from the cluster from deposing a working leader when it
comes back. There are no leases: every read is a command in the log.

**Learners**: a member that lost its disk must not vote again — it might promise what it had
promised against, or let a chosen value fall out of every majority — so, without
reconfiguration, it rejoins with ``voter=False``: quorums stay majorities of all members, and
it follows the leader's commit index through Learn messages.

**Batching**: ``max_batch`` bounds the slots one Accept (and one Learn) carries. The leader
sends proposals when its caller next asks for a Ready, so proposals arriving together share one
message per peer and one fsync; ``max_batch=1`` sends one message per slot.

**Flaws** are broken variants the test suites must catch; each is off by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archlab.consensus.staticconfig import StaticClusterConfig


@dataclass(frozen=True, slots=True)
class Flaws:
    """Deliberately broken Multi-Paxos variants (for tests; never for use). All off by default.

    - ``skip_phase1_after_leader_change``: a node that takes over leadership with a new ballot
      goes straight to phase 2: it proposes in every slot from its own knowledge (its own
      accepted values, no-ops in its own holes) without asking a majority what they accepted.
      A value chosen under the previous leader can then be overwritten by a different one.
    - ``read_without_quorum_check``: a leader serves reads without confirming, by a majority's
      answers, that it still leads: a deposed leader serves stale reads.
    """

    skip_phase1_after_leader_change: bool = False
    read_without_quorum_check: bool = False

    def enabled(self) -> list[str]:
        return [name for name in self.__slots__ if getattr(self, name)]


@dataclass(frozen=True, slots=True)
class PaxosConfig(StaticClusterConfig):
    """Configuration of one node; ``members`` lists every node of the (static) cluster."""

    id: int
    members: frozenset[int]
    election_tick: int = 10
    #: Upper bound (inclusive) of the randomized election timeout; ``None``: 2·election_tick − 1.
    election_tick_max: int | None = None
    heartbeat_tick: int = 1
    probe: bool = True
    check_quorum: bool = True
    max_batch: int = 64
    #: Proposals a leader keeps unchosen at once; beyond that ``propose`` refuses ("busy").
    max_inflight: int = 4096
    #: ``False``: a non-voting learner (a member whose disk was wiped, so whose promises are
    #: forgotten): it never promises, accepts or campaigns, and only learns chosen values.
    voter: bool = True
    flaws: Flaws = field(default_factory=Flaws)

    def __post_init__(self) -> None:
        self._check_cluster()
        if self.max_batch < 1 or self.max_inflight < 1:
            raise ValueError("max_batch and max_inflight must be at least 1")
