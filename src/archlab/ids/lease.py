"""Snowflake machine ids leased from a coordination service (codex 6.2: "it requires coordination
(like ZooKeeper) to manage machine IDs"), as two sans-IO state machines.

:class:`LeaseService` hands out machine ids with an expiry (``ttl_ms`` on the service's clock)
and renews them; an expired id can be granted to someone else. :class:`LeaseHolder` runs next
to a Snowflake generator: it asks for an id, renews it, and answers, for a clock reading, which
machine id (if any) the generator may stamp IDs with right now. Neither imports a clock, a
thread or a random source: every method takes ``now`` (that node's clock, in ms) and returns the
message to send, so the simulator, the tests' interleaving harness or a real network driver can
run them.

**Safety assumption.** Each node measures lease durations on a clock whose rate stays within
``1 ± max_drift`` of real time (a monotonic clock: offsets between nodes do not matter, steps
do; a holder that sees its clock go backwards drops its lease). Under that assumption the
holder stops using a lease before the service can give the id to anyone else:

- the holder counts from the moment it *sent* the request the grant answers, not from when the
  grant arrived (message delay only shortens its view);
- it trusts the lease for ``safe_ms = ttl · (1 - ρ)/(1 + ρ) - margin`` of its own clock, where
  ρ is ``max_drift`` and the margin (≥ 2 ms) covers millisecond rounding on both clocks. In
  real time that ends before ``ttl/(1+ρ)`` after the service granted, the earliest real time
  the service's clock can count ``ttl``.

A pause (GC, VM stall) changes nothing: when the holder runs again its clock has moved on, and
:meth:`LeaseHolder.machine` answers ``None`` once ``safe_ms`` has passed; the generator checks
at every stamp, with the same clock reading it stamps, so no ID carries a time outside the lease.

**No duplicate IDs across a handover.** Exclusive holding is not enough when the new holder's
clock is behind the old one's: it could stamp times the old holder already used. Each request
carries ``stamp_ceiling``, the highest time the sender could stamp under the lease it asks for;
the service keeps the highest ceiling per machine id and hands it to the next holder as
``floor_ms``; :class:`LeasedSnowflake` starts each new tenure's
:class:`~archlab.ids.snowflake.SnowflakeSequencer` from that floor, so every time up to it
counts as used.

``tests/ids/test_lease.py`` drives both machines with skewed, drifting clocks, message delay
and loss, and pauses, and checks both properties; it also shows the two broken variants (a
holder that trusts the full ttl from when the grant arrived, a new holder that ignores the
floor) are caught.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.errors import ConfigError
from archlab.ids.errors import NoMachineIdError
from archlab.ids.snowflake import TWITTER, SnowflakeLayout, SnowflakeSequencer


@dataclass(frozen=True)
class LeaseRequest:
    """Acquire (``machine is None``) or renew (``machine``, ``token``) a machine-id lease."""

    holder: str
    request_id: int
    stamp_ceiling: int  # the highest time the holder could stamp under the lease asked for
    machine: int | None = None
    token: int = 0


@dataclass(frozen=True)
class LeaseGrant:
    holder: str
    request_id: int
    machine: int
    token: int  # the lease's identity: unchanged by renewals, new for every fresh grant
    floor_ms: int  # the highest time any earlier grant of this machine id allowed to stamp


@dataclass(frozen=True)
class LeaseRefusal:
    holder: str
    request_id: int
    reason: str


LeaseResponse = LeaseGrant | LeaseRefusal


@dataclass
class _Slot:
    holder: str | None = None
    token: int = 0
    expires_at: int = 0
    ceiling: int = -1  # highest stamp ceiling ever granted on this id


class LeaseService:
    """The coordination service: machine ids with expiry on the service's own clock."""

    def __init__(self, machine_ids: int = 1024, ttl_ms: int = 10_000) -> None:
        if machine_ids <= 0 or ttl_ms <= 0:
            raise ConfigError("a lease service needs at least one machine id and a positive ttl")
        self.ttl_ms = ttl_ms
        self._slots = [_Slot() for _ in range(machine_ids)]
        self._tokens = 0

    def handle(self, request: LeaseRequest, now: int) -> LeaseResponse:
        if request.machine is None:
            return self._acquire(request, now)
        return self._renew(request, now)

    def holder_of(self, machine: int, now: int) -> str | None:
        slot = self._slots[machine]
        return slot.holder if slot.holder is not None and now < slot.expires_at else None

    def _acquire(self, request: LeaseRequest, now: int) -> LeaseResponse:
        for machine, slot in enumerate(self._slots):  # a retried acquire: the lease it already has
            if slot.holder == request.holder and now < slot.expires_at:
                return self._extend(machine, slot, request, now)
        for machine, slot in enumerate(self._slots):
            if slot.holder is None or now >= slot.expires_at:
                self._tokens += 1
                slot.holder = request.holder
                slot.token = self._tokens
                return self._extend(machine, slot, request, now)
        return LeaseRefusal(request.holder, request.request_id, "every machine id is leased")

    def _renew(self, request: LeaseRequest, now: int) -> LeaseResponse:
        machine = request.machine
        if machine is None or not 0 <= machine < len(self._slots):
            return LeaseRefusal(request.holder, request.request_id, f"no machine id {machine}")
        slot = self._slots[machine]
        if slot.holder != request.holder or slot.token != request.token:
            return LeaseRefusal(request.holder, request.request_id, "lease is not yours")
        if now >= slot.expires_at:
            return LeaseRefusal(request.holder, request.request_id, "lease expired")
        return self._extend(machine, slot, request, now)

    def _extend(self, machine: int, slot: _Slot, request: LeaseRequest, now: int) -> LeaseGrant:
        # The floor is every ceiling granted before this request, the holder's own included:
        # a holder starting a new tenure (even on an id it held before) cannot know what it
        # stamped last time, so it waits past all of it. A continuing tenure ignores the floor.
        floor = slot.ceiling
        slot.expires_at = now + self.ttl_ms
        slot.ceiling = max(slot.ceiling, request.stamp_ceiling)
        return LeaseGrant(request.holder, request.request_id, machine, slot.token, floor)


@dataclass(frozen=True)
class HeldLease:
    machine: int
    token: int
    tenure: int  # changes when a lease starts after none was held: start a new sequencer then
    floor_ms: int  # the floor of the grant that started this tenure
    valid_until: int  # first clock reading at which the lease may no longer be used
    renew_at: int


@dataclass(frozen=True)
class _Pending:
    request_id: int
    sent_at: int


class LeaseHolder:
    """The generator's side: acquire, renew, and say which machine id is usable now."""

    def __init__(
        self,
        name: str,
        *,
        ttl_ms: int,
        max_drift: float = 1e-3,
        margin_ms: int = 2,
        renew_fraction: float = 1 / 3,
        retry_ms: int | None = None,
    ) -> None:
        if not 0 <= max_drift < 1 or margin_ms < 2:
            raise ConfigError("max_drift must be in [0, 1) and margin_ms at least 2")
        self.name = name
        self.ttl_ms = ttl_ms
        self.safe_ms = int(ttl_ms * (1 - max_drift) / (1 + max_drift)) - margin_ms
        if self.safe_ms <= 0:
            raise ConfigError(f"ttl {ttl_ms} ms leaves no safe lease time at drift {max_drift}")
        self.renew_after = max(1, int(self.safe_ms * renew_fraction))
        self.retry_ms = retry_ms if retry_ms is not None else max(1, self.safe_ms // 4)
        self.lease: HeldLease | None = None
        self._pending: _Pending | None = None
        self._requests = 0
        self._tenures = 0
        self._last_now: int | None = None

    def poll(self, now: int) -> LeaseRequest | None:
        """Call on a timer: the request to send now (acquire, renew or a retry), if any."""
        self._observe(now)
        if self._pending is not None and now - self._pending.sent_at < self.retry_ms:
            return None
        lease = self.lease
        if lease is not None and now < lease.renew_at:
            return None
        self._requests += 1
        self._pending = _Pending(self._requests, now)
        ceiling = now + self.safe_ms - 1
        if lease is None:
            return LeaseRequest(self.name, self._requests, ceiling)
        return LeaseRequest(self.name, self._requests, ceiling, lease.machine, lease.token)

    def on_response(self, response: LeaseResponse, now: int) -> None:
        """Take the service's answer; answers to anything but the latest request are ignored."""
        self._observe(now)
        pending = self._pending
        if pending is None or response.request_id != pending.request_id:
            return
        self._pending = None
        if isinstance(response, LeaseRefusal):
            self.lease = None
            return
        valid_until = self.valid_until(pending.sent_at, now)
        if now >= valid_until:
            self.lease = None  # arrived too late to be of any use
            return
        current = self.lease if self.machine(now) is not None else None
        if current is not None and (current.machine, current.token) == (
            response.machine,
            response.token,
        ):
            tenure, floor = current.tenure, current.floor_ms
        else:
            self._tenures += 1
            tenure, floor = self._tenures, response.floor_ms
        self.lease = HeldLease(
            response.machine,
            response.token,
            tenure,
            floor,
            valid_until,
            pending.sent_at + self.renew_after,
        )

    def valid_until(self, sent_at: int, received_at: int) -> int:
        """Until when a grant answering a request sent at ``sent_at`` may be used."""
        return sent_at + self.safe_ms

    def machine(self, now: int) -> int | None:
        """The machine id to stamp with at clock reading ``now``, or ``None``."""
        self._observe(now)
        lease = self.lease
        if lease is None or now >= lease.valid_until:
            return None
        return lease.machine

    def _observe(self, now: int) -> None:
        if self._last_now is not None and now < self._last_now:
            # The clock stepped back: durations measured across the step cannot be trusted.
            self.lease = None
            self._pending = None
        self._last_now = now


class LeasedSnowflake:
    """A Snowflake sequencer that stamps only under a valid lease (sans-IO, like its parts).

    :meth:`issue` checks the lease at the very clock reading it stamps with, starts a new
    :class:`SnowflakeSequencer` (with the grant's floor) whenever a new tenure begins, and
    raises :class:`NoMachineIdError` while no lease is held. Like the sequencer it returns
    ``None`` when the millisecond is used up and raises ``ClockMovedBackwardsError`` for a
    reading at or below the last one used (or the floor): the driver waits or refuses.
    """

    def __init__(self, holder: LeaseHolder, layout: SnowflakeLayout = TWITTER) -> None:
        self.holder = holder
        self.layout = layout
        self._sequencer: SnowflakeSequencer | None = None
        self._tenure = -1

    def floor_for(self, lease: HeldLease) -> int:
        """The floor a new tenure starts from (the grant's; a test overrides it to break it)."""
        return lease.floor_ms

    def issue(self, now: int) -> int | None:
        machine = self.holder.machine(now)
        lease = self.holder.lease
        if machine is None or lease is None:
            raise NoMachineIdError(f"{self.holder.name} holds no machine-id lease at {now} ms")
        if lease.tenure != self._tenure or self._sequencer is None:
            self._sequencer = SnowflakeSequencer(machine, self.layout, self.floor_for(lease))
            self._tenure = lease.tenure
        return self._sequencer.issue(now)
