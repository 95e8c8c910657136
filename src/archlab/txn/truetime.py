"""TrueTime: time as an interval that contains the true time (codex 5.2, Spanner §3).

A node cannot read true time; it reads its own clock, which runs fast or slow by an unknown
rate below an assumed *drift bound*. TrueTime turns that clock into an interval
``[earliest, latest]`` guaranteed to contain the true time, provided the assumption holds:

- A **sync** is one round trip to a time master: the node sends a request at local time
  ``sent``, the master answers with its reading ``master_time`` and its own uncertainty
  ``master_epsilon`` (the error of its GPS or atomic reference), the answer arrives at local
  ``received``. The master read its clock somewhere inside the round trip, which lasted at
  most ``(received - sent) / (1 - bound)`` true seconds; so at ``received`` the true time lies
  within ``[master_time - master_epsilon, master_time + master_epsilon + rtt]``. The node keeps
  the midpoint as its reference and half the width as ``epsilon0``.
- Between syncs the reference advances with the local clock, and ``epsilon`` grows with the
  worst drift: ``epsilon = epsilon0 + bound / (1 - bound) * (local - received)``. A clock that
  drifts by at most ``bound`` cannot leave the interval (the growth term bounds the extra
  error of ``local - received`` local seconds, whichever way the clock drifts). Hence the
  Spanner *sawtooth*: epsilon falls to ``epsilon0`` at each sync and climbs until the next
  (the paper: polls every 30 s, 200 µs/s assumed drift, ~1 ms to the masters: 1-7 ms).

:class:`TrueTime` is sans-IO: the caller passes its local clock reading to every method,
and feeds it the master's answers with :meth:`TrueTime.on_sync`. ``now``, ``after`` and
``before`` are the paper's API. :class:`TimeRequest` / :class:`TimeReply` are the messages of
a sync and :func:`master_reply` the master's side. A clock that drifts faster than the bound
it is configured with breaks the guarantee: :meth:`TTInterval.contains` then fails, which the
tests and the 5.2 experiment show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Slack for floating-point rounding in the interval arithmetic (a nanosecond; Spanner counts
#: microseconds in integers and needs none).
ROUNDING = 1e-9


@dataclass(frozen=True, slots=True)
class TTInterval:
    """``[earliest, latest]``: the true time is in here (if the drift bound holds)."""

    earliest: float
    latest: float

    @property
    def epsilon(self) -> float:
        """The half-width: the instantaneous uncertainty."""
        return (self.latest - self.earliest) / 2

    @property
    def midpoint(self) -> float:
        return (self.earliest + self.latest) / 2

    def contains(self, t: float) -> bool:
        return self.earliest <= t <= self.latest


class NotSynchronised(RuntimeError):
    """TrueTime was asked for the time before its first sync."""


@dataclass(frozen=True, slots=True)
class TimeRequest:
    """A node asks a time master for its reading (``nonce`` pairs reply and request)."""

    nonce: int


@dataclass(frozen=True, slots=True)
class TimeReply:
    nonce: int
    master_time: float
    master_epsilon: float


def master_reply(request: TimeRequest, master_now: float, master_epsilon: float) -> TimeReply:
    """A time master's answer: its clock reading and the uncertainty it vouches for."""
    return TimeReply(request.nonce, master_now, master_epsilon)


class TrueTime:
    """One node's TrueTime (see the module docstring).

    ``drift_bound`` is the assumed worst rate error of the local clock (``200e-6`` is the
    paper's 200 µs per second). Nothing here reads a clock: ``local`` is always the caller's
    reading of its own.
    """

    def __init__(self, drift_bound: float = 200e-6) -> None:
        if not 0 <= drift_bound < 1:
            raise ValueError(f"drift bound {drift_bound} must be in [0, 1)")
        self.drift_bound = drift_bound
        #: Extra uncertainty per local second since the last sync.
        self.growth = drift_bound / (1 - drift_bound)
        self._sync_local: float | None = None
        self._reference = 0.0
        self._epsilon0 = math.inf
        self.syncs = 0

    @property
    def synced(self) -> bool:
        return self._sync_local is not None

    def on_sync(
        self, sent: float, received: float, master_time: float, master_epsilon: float
    ) -> bool:
        """Take a master's reading (request sent at local ``sent``, answer at ``received``).

        The new reference replaces the old one only if it is tighter than what the old one
        has grown to; returns whether it did. A reply that arrives before its request left
        (a clock stepped backwards in between) is refused.
        """
        if received < sent or master_epsilon < 0:
            return False
        rtt = (received - sent) / (1 - self.drift_bound)
        epsilon0 = master_epsilon + rtt / 2 + ROUNDING
        if self.synced and self.epsilon(received) <= epsilon0:
            return False
        self._sync_local = received
        self._reference = master_time + rtt / 2
        self._epsilon0 = epsilon0
        self.syncs += 1
        return True

    def since_sync(self, local: float) -> float:
        """Local seconds since the last sync."""
        if self._sync_local is None:
            raise NotSynchronised("TrueTime has not synchronised with a time master yet")
        return max(0.0, local - self._sync_local)

    def epsilon(self, local: float) -> float:
        """The uncertainty at local time ``local``."""
        return self._epsilon0 + self.growth * self.since_sync(local)

    def now(self, local: float) -> TTInterval:
        """``TT.now()``: an interval containing the true time at the local reading ``local``."""
        elapsed = self.since_sync(local)
        estimate = self._reference + elapsed
        epsilon = self._epsilon0 + self.growth * elapsed
        return TTInterval(estimate - epsilon, estimate + epsilon)

    def after(self, t: float, local: float) -> bool:
        """``TT.after(t)``: ``t`` has certainly passed."""
        return self.now(local).earliest > t

    def before(self, t: float, local: float) -> bool:
        """``TT.before(t)``: ``t`` has certainly not arrived."""
        return self.now(local).latest < t

    def wait_until_after(self, t: float, local: float) -> float:
        """Local seconds to wait from ``local`` until ``after(t)`` holds, absent a new sync.

        ``earliest`` advances by ``1 - growth`` per local second (the estimate by one, the
        uncertainty by ``growth``), so the wait is exact for this clock; a sync in between
        only makes ``after(t)`` true sooner. Callers re-check ``after`` when the wait ends.
        """
        gap = t - self.now(local).earliest
        if gap < 0:
            return 0.0
        return gap / (1 - self.growth) + 1e-9
