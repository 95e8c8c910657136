"""Zab's knobs, and the deliberately broken variant kept for experiments and tests (codex 5.3).

Time is counted in ticks (the host decides how long one is). A follower that hears nothing from
its leader for its randomized timeout (uniform in ``[election_tick, election_tick_max]``,
``[T, 2T)`` by default) goes back to leader election; so does a leader that has not heard from a
majority within ``election_tick``, or that has not finished synchronization within
``establish_ticks``. The leader pings each follower every ``heartbeat_tick`` ticks, resending
the proposals it has not acknowledged. A looking node re-sends its vote every ``heartbeat_tick``
ticks and, once a quorum agrees with it, waits ``finalize_ticks`` for a better vote before it
decides (ZooKeeper's finalize wait).

**Batching**: proposals made before the caller next asks for a Ready leave together, up to
``max_batch`` transactions per Proposal message; ``max_batch=1`` sends one message per
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archlab.consensus.staticconfig import StaticClusterConfig


@dataclass(frozen=True, slots=True)
class Flaws:
    """Deliberately broken Zab variants (for experiments and tests). All off by default.

    - ``skip_synchronization``: Zab without phase 2. After discovery the new leader neither
      installs its history on the followers nor commits it before broadcasting: it proposes
      right away, and a follower appends the new epoch's proposals to whatever history it has.
      A follower that lacked a committed transaction then delivers the new primary's
      proposals without it, and one holding an uncommitted transaction of a dead primary
      delivers it: primary order, and agreement, are lost.
    - ``read_without_quorum_check``: a leader serves reads without confirming, by a quorum's
      acknowledgements, that it still leads: a deposed leader serves stale reads.
    """

    skip_synchronization: bool = False
    read_without_quorum_check: bool = False

    def enabled(self) -> list[str]:
        return [name for name in self.__slots__ if getattr(self, name)]


@dataclass(frozen=True, slots=True)
class ZabConfig(StaticClusterConfig):
    id: int
    members: frozenset[int]
    election_tick: int = 10
    election_tick_max: int | None = None
    heartbeat_tick: int = 1
    finalize_ticks: int = 1
    #: A leader that has not established its epoch (a quorum synchronized) by then gives up.
    establish_ticks: int = 30
    max_batch: int = 64
    max_inflight: int = 4096
    #: ``False``: an *observer* (ZooKeeper's non-voting member), which a member whose disk was
    #: wiped becomes: it follows and delivers, but never votes, acknowledges towards a quorum,
    #: or leads (its forgotten epochs and history must not count).
    voter: bool = True
    flaws: Flaws = field(default_factory=Flaws)

    def __post_init__(self) -> None:
        self._check_cluster()
        if self.finalize_ticks < 0 or self.establish_ticks < 1:
            raise ValueError("finalize_ticks must be >= 0 and establish_ticks >= 1")
        if self.max_batch < 1 or self.max_inflight < 1:
            raise ValueError("max_batch and max_inflight must be at least 1")
