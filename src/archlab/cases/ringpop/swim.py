"""SWIM membership (codex 10.5, Das, Gupta and Motivala 2002) as a sans-IO protocol core.

Every protocol period each member probes one other, picked round-robin from a shuffled list
(new members are inserted at a random place, so every member is probed within a bounded
number of periods): a ``Ping``, and if no ``Ack`` arrives within ``ping_timeout``, a ``PingReq``
through ``indirect_probes`` other members, who ping the target and relay its ack. A target
that has not answered by the end of the period becomes *suspect*; a suspect that is not
cleared within the suspicion timeout is declared *faulty*.

Membership changes travel piggybacked on the protocol's own messages (no extra messages):
every update rides on at most ``max_piggyback`` messages at a time, least-sent first, and is
retired after ``retransmit_multiplier * ceil(log10(n + 1))`` sends (memberlist's rule), which
spreads it to the whole group in O(log n) periods with high probability.

Incarnation numbers order a member's own claims: a member that hears it is suspected raises
its incarnation and gossips ``alive`` with the new number, which overrides the suspicion
everywhere (*refutation*). ``SwimConfig(refute=False)`` is the broken variant that never
refutes, so a live member that lost a few packets is declared faulty: the tests show the
false-positive checker catches it.

The core never reads a clock, a socket or :mod:`random`: the host passes ``now``, a seeded
random source, and sends the returned :class:`Outbound` messages (see :mod:`.simulate` and
:mod:`.node`). It calls :meth:`Swim.tick` at :meth:`Swim.next_deadline` and
:meth:`Swim.receive` on every message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from archlab.cases.ringpop.ring import hash32
from archlab.randomness import RandomSource

Status = Literal["alive", "suspect", "faulty"]
STATUSES: tuple[Status, ...] = ("alive", "suspect", "faulty")


@dataclass(frozen=True)
class Update:
    """A claim about one member: its status at an incarnation."""

    member: str
    status: Status
    incarnation: int


@dataclass(frozen=True)
class Ping:
    seq: int
    updates: tuple[Update, ...] = ()
    #: The sender's membership checksum (Ringpop): a differing one with nothing left to gossip
    #: gets the whole membership back in the ack (a full sync).
    checksum: int = 0


@dataclass(frozen=True)
class Ack:
    seq: int
    updates: tuple[Update, ...] = ()
    full_sync: tuple[Update, ...] = ()


@dataclass(frozen=True)
class PingReq:
    seq: int
    target: str
    updates: tuple[Update, ...] = ()


@dataclass(frozen=True)
class Join:
    """A new member asks a seed to let it in; the seed answers with the whole membership."""

    updates: tuple[Update, ...] = ()


@dataclass(frozen=True)
class JoinAck:
    members: tuple[Update, ...]
    updates: tuple[Update, ...] = ()


Message = Ping | Ack | PingReq | Join | JoinAck


@dataclass(frozen=True)
class Outbound:
    """A message the host must send to ``to``."""

    to: str
    message: Message


@dataclass(frozen=True)
class SwimConfig:
    """Protocol timing and limits; defaults follow memberlist's LAN profile (in periods)."""

    period: float = 1.0
    ping_timeout: float = 0.5
    indirect_probes: int = 3
    suspicion_periods: float = 5.0
    retransmit_multiplier: int = 4
    max_piggyback: int = 8
    refute: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.ping_timeout < self.period:
            raise ValueError(
                f"ping_timeout {self.ping_timeout} must lie inside the period {self.period}"
            )
        if self.indirect_probes < 0 or self.max_piggyback < 1 or self.retransmit_multiplier < 1:
            raise ValueError("indirect_probes >= 0, max_piggyback >= 1, retransmit_multiplier >= 1")


@dataclass
class _Probe:
    target: str
    seq: int
    started: float
    acked: bool = False
    indirect_sent: bool = False


def _overrides(new: Update, old: Update) -> bool:
    """SWIM's precedence: does ``new`` replace what is known (``old``) about the same member?"""
    if new.status == "alive":
        return new.incarnation > old.incarnation
    if new.status == "suspect":
        if old.status == "alive":
            return new.incarnation >= old.incarnation
        return new.incarnation > old.incarnation
    return old.status != "faulty" and new.incarnation >= old.incarnation


class Swim:
    """One member's view of the group and its side of the protocol."""

    def __init__(
        self,
        me: str,
        rng: RandomSource,
        config: SwimConfig | None = None,
        now: float = 0.0,
        members: tuple[str, ...] | list[str] = (),
    ) -> None:
        self.me = me
        self.config = config or SwimConfig()
        self.incarnation = 0
        self._rng = rng
        self.members: dict[str, Update] = {me: Update(me, "alive", 0)}
        for name in members:
            self.members.setdefault(name, Update(name, "alive", 0))
        self._gossip: dict[str, tuple[Update, int]] = {}
        self._order = [m for m in self.members if m != me]
        rng.shuffle(self._order)
        self._next_in_order = 0
        self._probe: _Probe | None = None
        self._next_period = now + rng.uniform(0.0, self.config.period)
        self._suspicions: dict[str, float] = {}
        self._relays: dict[int, tuple[str, int, float]] = {}
        self._seq = 0
        #: Every change this member made to its view: (time, update), for hosts to observe.
        self.changes: list[tuple[float, Update]] = []
        self.messages_sent = 0
        #: Bumped on every change of who is in the ring (alive or suspect members).
        self.version = 0
        self._checksum: int | None = None

    # -- the host's entry points ----------------------------------------------------------

    def join(self, now: float, seeds: list[str]) -> list[Outbound]:
        """Ask ``seeds`` to let this member in."""
        hello = (Update(self.me, "alive", self.incarnation),)
        self._gossip[self.me] = (hello[0], 0)
        return self._count([Outbound(s, Join(hello)) for s in seeds if s != self.me])

    def next_deadline(self) -> float:
        """When :meth:`tick` must be called next."""
        deadline = self._next_period
        probe = self._probe
        if probe is not None and not probe.acked and not probe.indirect_sent:
            deadline = min(deadline, probe.started + self.config.ping_timeout)
        if self._suspicions:
            deadline = min(deadline, *self._suspicions.values())
        return deadline

    def tick(self, now: float) -> list[Outbound]:
        """Run every timeout due at ``now``: indirect probes, suspicion expiry, a new period."""
        out: list[Outbound] = []
        probe = self._probe
        if (
            probe is not None
            and not probe.acked
            and not probe.indirect_sent
            and now >= probe.started + self.config.ping_timeout
        ):
            probe.indirect_sent = True
            out.extend(self._ping_req(probe))
        for member, deadline in list(self._suspicions.items()):
            if now >= deadline:
                known = self.members[member]
                self._apply(now, Update(member, "faulty", known.incarnation))
        if now >= self._next_period:
            self._end_period(now)
            self._next_period += self.config.period * max(
                1, math.floor((now - self._next_period) / self.config.period) + 1
            )
            out.extend(self._start_probe(now))
        self._relays = {s: r for s, r in self._relays.items() if r[2] > now}
        return self._count(out)

    def receive(self, now: float, src: str, message: Message) -> list[Outbound]:
        """Handle one message from ``src``."""
        for update in message.updates:
            self._apply(now, update)
        out: list[Outbound] = []
        if isinstance(message, Ping):
            updates = self._piggyback()
            full: tuple[Update, ...] = ()
            if not self._gossip and message.checksum not in (0, self.checksum()):
                full = tuple(self.members.values())
            out.append(Outbound(src, Ack(message.seq, updates, full)))
        elif isinstance(message, Ack):
            for update in message.full_sync:
                self._apply(now, update)
            probe = self._probe
            if probe is not None and probe.seq == message.seq:
                probe.acked = True
            elif message.seq in self._relays:
                requester, their_seq, _ = self._relays.pop(message.seq)
                out.append(Outbound(requester, Ack(their_seq, self._piggyback())))
        elif isinstance(message, PingReq):
            self._seq += 1
            self._relays[self._seq] = (src, message.seq, now + self.config.period)
            out.append(Outbound(message.target, Ping(self._seq, self._piggyback())))
        elif isinstance(message, Join):
            snapshot = tuple(self.members.values())
            out.append(Outbound(src, JoinAck(snapshot, self._piggyback())))
        else:
            for update in message.members:
                self._apply(now, update)
        return self._count(out)

    # -- views -----------------------------------------------------------------------------

    def status(self, member: str) -> Status | None:
        known = self.members.get(member)
        return None if known is None else known.status

    def checksum(self) -> int:
        """A fingerprint of this member's whole view (every member, status and incarnation)."""
        if self._checksum is None:
            text = ";".join(
                f"{u.member} {u.status} {u.incarnation}"
                for u in sorted(self.members.values(), key=lambda u: u.member)
            )
            self._checksum = hash32(text)
        return self._checksum

    def ring_members(self) -> list[str]:
        """Members that own keys: alive and suspect ones (a suspect may still be alive)."""
        return sorted(m for m, u in self.members.items() if u.status != "faulty")

    def live_count(self) -> int:
        return sum(1 for u in self.members.values() if u.status != "faulty")

    # -- the protocol ----------------------------------------------------------------------

    def _end_period(self, now: float) -> None:
        probe = self._probe
        self._probe = None
        if probe is None or probe.acked:
            return
        known = self.members.get(probe.target)
        if known is not None and known.status == "alive":
            self._apply(now, Update(probe.target, "suspect", known.incarnation))

    def _start_probe(self, now: float) -> list[Outbound]:
        target = self._next_target()
        if target is None:
            return []
        self._seq += 1
        self._probe = _Probe(target, self._seq, now)
        return [Outbound(target, Ping(self._seq, self._piggyback(), self.checksum()))]

    def _next_target(self) -> str | None:
        for _ in range(2):
            while self._next_in_order < len(self._order):
                candidate = self._order[self._next_in_order]
                self._next_in_order += 1
                if self.members[candidate].status != "faulty":
                    return candidate
            self._order = [
                m for m, u in self.members.items() if m != self.me and u.status != "faulty"
            ]
            self._rng.shuffle(self._order)
            self._next_in_order = 0
        return None

    def _ping_req(self, probe: _Probe) -> list[Outbound]:
        helpers = [
            m
            for m, u in self.members.items()
            if m not in (self.me, probe.target) and u.status == "alive"
        ]
        k = min(self.config.indirect_probes, len(helpers))
        chosen = self._rng.sample(helpers, k) if k else []
        return [Outbound(h, PingReq(probe.seq, probe.target, self._piggyback())) for h in chosen]

    def _apply(self, now: float, update: Update) -> None:
        if update.member == self.me:
            self._about_me(update)
            return
        known = self.members.get(update.member)
        if known is not None and not _overrides(update, known):
            return
        was_in_ring = known is not None and known.status != "faulty"
        self.members[update.member] = update
        self._checksum = None
        self._gossip[update.member] = (update, 0)
        self.changes.append((now, update))
        if update.status == "suspect":
            if update.member not in self._suspicions:
                timeout = self.config.suspicion_periods * self.config.period
                self._suspicions[update.member] = now + timeout
        else:
            self._suspicions.pop(update.member, None)
        if known is None:
            self._order.insert(self._rng.randint(0, len(self._order)), update.member)
        if was_in_ring != (update.status != "faulty"):
            self.version += 1

    def _about_me(self, update: Update) -> None:
        """Someone suspects (or buried) me: refute with a higher incarnation, if enabled."""
        if update.status == "alive" or not self.config.refute:
            return
        if update.incarnation >= self.incarnation:
            self.incarnation = update.incarnation + 1
            mine = Update(self.me, "alive", self.incarnation)
            self.members[self.me] = mine
            self._checksum = None
            self._gossip[self.me] = (mine, 0)

    def _piggyback(self) -> tuple[Update, ...]:
        if not self._gossip:
            return ()
        limit = self.config.retransmit_multiplier * max(
            1, math.ceil(math.log10(self.live_count() + 1))
        )
        chosen = sorted(self._gossip.items(), key=lambda item: item[1][1])
        chosen = chosen[: self.config.max_piggyback]
        for member, (update, sent) in chosen:
            if sent + 1 >= limit:
                del self._gossip[member]
            else:
                self._gossip[member] = (update, sent + 1)
        return tuple(update for _, (update, _) in chosen)

    def _count(self, out: list[Outbound]) -> list[Outbound]:
        self.messages_sent += len(out)
        return out
