"""Raft's knobs, and the deliberately broken variants kept for tests (codex 5.3).

Time is counted in ticks (the host decides how long a tick is: 1 ms in the Figure 16
experiment, 10 ms in the runtime). Defaults follow etcd/raft: heartbeat every tick, election
timeout 10 ticks, each node's randomized timeout drawn uniformly from
``[election_tick, election_tick_max]`` (``[T, 2T)`` by default) from the injected
``random.Random`` every time it resets.

**Read modes.** ``ReadMode.READ_INDEX`` (the default) serves a linearizable read after the
leader has (1) committed an entry of its term and (2) confirmed, by a heartbeat round that a
majority acknowledged *after* the read arrived, that it was still the leader; the read then waits
until the local state machine has applied the commit index recorded at arrival.
``ReadMode.LEASE`` skips step (2) while the leader holds a lease.

**The lease's safety assumption.** A follower that acknowledges heartbeat round *r* refuses to
vote for anybody (and cannot start an election) until ``election_tick`` of *its own* ticks have
passed since it received *r*; a restarted node refuses votes for ``election_tick`` ticks after
booting. So once a majority has acknowledged round *r*, no other leader can be elected until
``election_tick − 1`` follower tick periods after *r* was sent, in real time. The leader holds its
lease for ``lease_ticks`` of its own ticks counted from the tick in which it *sent* *r* (message
delay only shortens the lease, it never extends it). That is safe **if every node's tick period
is within a factor (1 ± ``max_clock_drift``) of nominal**, because then
``lease_ticks · (1 + ρ) ≤ (election_tick − 1) · (1 − ρ)``, which is how ``lease_ticks`` is
derived: ``floor((election_tick − 1)(1 − ρ)/(1 + ρ))``. Drift beyond ρ (a clock running fast on the
leader or slow on the followers), or a pause of the leader's process that its tick count does not
see, breaks it: the old leader may then serve a stale read after a new leader has committed a
write. Leases need ``check_quorum`` (it is what makes followers refuse votes while they hear from
a leader), and no leadership transfer bypasses them (archlab's Raft has none).

**Flaws** are the broken variants the test suites must catch; each is off by default and named for
what it breaks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum


class ReadMode(Enum):
    READ_INDEX = "read-index"
    LEASE = "lease"


@dataclass(frozen=True, slots=True)
class Flaws:
    """Deliberately broken Raft variants (for tests; never for use). All off by default.

    - ``grant_vote_without_log_check``: a voter grants its vote without checking that the
      candidate's log is at least as up to date (breaks leader completeness).
    - ``commit_previous_term_by_counting``: a leader commits an entry of an earlier term as soon
      as a majority stores it (the Raft paper's Figure 8: the entry can then be overwritten).
    - ``reply_before_persisting_vote``: a voter sends its vote before the new term and vote are
      in a persist batch: they are flushed lazily, in the first Ready after its next tick, so a
      crash in between lets it vote twice in one term.
    - ``trust_wiped_disk``: read by the host, not the node: a node whose disk was wiped rejoins
      as the voter it was, with an empty log and no memory of its votes (no recovery, see
      :mod:`archlab.consensus.raft.recovery`).
    """

    grant_vote_without_log_check: bool = False
    commit_previous_term_by_counting: bool = False
    reply_before_persisting_vote: bool = False
    trust_wiped_disk: bool = False

    def enabled(self) -> list[str]:
        return [name for name in self.__slots__ if getattr(self, name)]


@dataclass(frozen=True, slots=True)
class RaftConfig:
    """Configuration of one node."""

    id: int
    election_tick: int = 10
    #: Upper bound (inclusive) of the randomized election timeout; ``None``: 2·election_tick − 1.
    election_tick_max: int | None = None
    heartbeat_tick: int = 1
    pre_vote: bool = True
    check_quorum: bool = True
    read_mode: ReadMode = ReadMode.READ_INDEX
    #: ρ of the lease's safety assumption (see the module docstring).
    max_clock_drift: float = 0.01
    max_entries_per_msg: int = 64
    max_inflight: int = 256
    flaws: Flaws = field(default_factory=Flaws)

    def __post_init__(self) -> None:
        if self.id <= 0:
            raise ValueError(f"node ids are positive integers, got {self.id}")
        if self.heartbeat_tick < 1:
            raise ValueError("heartbeat_tick must be at least 1")
        if self.election_tick <= self.heartbeat_tick:
            raise ValueError("election_tick must be greater than heartbeat_tick")
        if self.election_tick_max is not None and self.election_tick_max < self.election_tick:
            raise ValueError("election_tick_max must be at least election_tick")
        if self.max_entries_per_msg < 1 or self.max_inflight < 1:
            raise ValueError("max_entries_per_msg and max_inflight must be at least 1")
        if not 0 <= self.max_clock_drift < 1:
            raise ValueError("max_clock_drift must be in [0, 1)")
        if self.read_mode is ReadMode.LEASE:
            if not self.check_quorum:
                raise ValueError("lease reads need check_quorum (followers must honour leases)")
            if self.lease_ticks < 1:
                raise ValueError(
                    f"election_tick {self.election_tick} leaves no lease at drift "
                    f"{self.max_clock_drift}"
                )

    @property
    def timeout_range(self) -> tuple[int, int]:
        """``(low, high)``, inclusive, of the randomized election timeout in ticks."""
        high = self.election_tick_max
        return self.election_tick, (2 * self.election_tick - 1 if high is None else high)

    @property
    def lease_ticks(self) -> int:
        """How long a quorum-acknowledged heartbeat round keeps the leader's lease."""
        rho = self.max_clock_drift
        return math.floor((self.election_tick - 1) * (1 - rho) / (1 + rho))
