"""The messages Multi-Paxos nodes exchange (codex 5.3).

Every message names its sender ``src``, its destination ``dst`` and a ballot: the sender's own
ballot for proposer messages, the ballot being answered for acceptor replies.

Election (not part of Paxos's safety, only of its liveness):
    :class:`Probe` / :class:`ProbeReply`: "would you promise a ballot of mine now?", asked
    without anybody changing state, so a node cut off from the leader cannot disrupt it when it
    comes back (the role Raft's pre-vote plays).

Phase 1, once per ballot for every slot from ``from_slot`` on:
    :class:`Prepare` (1a) / :class:`Promise` (1b, with every value the acceptor accepted or knows
    chosen at or after ``from_slot``, and its snapshot if it has compacted past ``from_slot``).

Phase 2, per slot (batched: one message may carry many slots):
    :class:`Accept` (2a, also the leader's heartbeat and commit notification: ``commit`` is the
    leader's chosen prefix) / :class:`Accepted` (2b: the slots this acceptor accepted, and its
    own chosen prefix so the leader knows who lags).

Learning and catch-up:
    :class:`Learn` carries chosen values to a node that could not learn them from the commit
    index (it did not accept them in the leader's ballot); :class:`InstallSnapshot` replaces
    them when the leader has compacted them away. Both are answered with :class:`Learned`.

:class:`Reject`: "I promised ``promised``, higher than your ballot ``ballot``".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from archlab.consensus.paxos.types import Ballot, Chosen, Slot, Snapshot


@dataclass(frozen=True, slots=True)
class Probe:
    src: int
    dst: int
    ballot: Ballot
    #: The prober's chosen prefix: nobody grants a probe from a node that knows less.
    commit: int


@dataclass(frozen=True, slots=True)
class ProbeReply:
    src: int
    dst: int
    ballot: Ballot
    granted: bool
    #: The replier's promised ballot (so a refused prober picks a higher round next time).
    promised: Ballot


@dataclass(frozen=True, slots=True)
class Prepare:
    src: int
    dst: int
    ballot: Ballot
    from_slot: int


@dataclass(frozen=True, slots=True)
class Promise:
    src: int
    dst: int
    ballot: Ballot
    #: Every slot at or after the Prepare's ``from_slot`` that this acceptor accepted or knows
    #: chosen (a chosen slot carries its value with ``chosen=True``).
    slots: tuple[Slot, ...]
    commit: int
    snapshot: Snapshot | None = None


@dataclass(frozen=True, slots=True)
class Reject:
    src: int
    dst: int
    ballot: Ballot
    promised: Ballot


@dataclass(frozen=True, slots=True)
class Accept:
    src: int
    dst: int
    ballot: Ballot
    #: ``(slot, value)`` pairs proposed in ``ballot``; empty for a heartbeat.
    entries: tuple[tuple[int, bytes], ...]
    commit: int
    #: The leader's read round (:mod:`archlab.consensus.readindex`), echoed in the Accepted.
    round: int = 0


@dataclass(frozen=True, slots=True)
class Accepted:
    src: int
    dst: int
    ballot: Ballot
    slots: tuple[int, ...]
    #: This node's chosen prefix after handling the Accept.
    commit: int
    #: The commit index the Accept carried: a node still below it could not learn every chosen
    #: slot from it (it never accepted their values in this ballot) and needs a Learn.
    leader_commit: int
    #: The Accept's read round: a majority answering it in the leader's ballot confirms that
    #: no higher ballot had been promised by a majority when they answered.
    round: int = 0


@dataclass(frozen=True, slots=True)
class Learned:
    """The answer to a Learn or an InstallSnapshot (and a learner's answer to an Accept): this
    node's chosen prefix now."""

    src: int
    dst: int
    ballot: Ballot
    commit: int
    voter: bool = True


@dataclass(frozen=True, slots=True)
class Learn:
    src: int
    dst: int
    ballot: Ballot
    chosen: tuple[Chosen, ...]


@dataclass(frozen=True, slots=True)
class InstallSnapshot:
    src: int
    dst: int
    ballot: Ballot
    snapshot: Snapshot


Message: TypeAlias = (
    Probe
    | ProbeReply
    | Prepare
    | Promise
    | Reject
    | Accept
    | Accepted
    | Learn
    | Learned
    | InstallSnapshot
)
