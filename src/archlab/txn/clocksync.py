"""Keeping TrueTime synchronised: time masters and the polling daemon (codex 5.2).

In Spanner every machine runs a daemon that polls time masters (GPS or atomic clocks) every
30 seconds; between polls its uncertainty grows with the assumed drift (the sawtooth of
:mod:`archlab.txn.truetime`). Here both sides are sans-IO pieces a simulated node hosts:

- :class:`TimeMaster`: answers a :class:`~archlab.txn.truetime.TimeRequest` with its clock
  reading and the uncertainty it vouches for (its host's clock must be within that of true
  time: the simulated world sets it so).
- :class:`TimeSync`: sends a request every ``interval`` (local seconds; every ``retry`` while
  never synchronised or while a request goes unanswered), and feeds each answer to its
  :class:`~archlab.txn.truetime.TrueTime`. The first poll after the boot-time one comes after
  a random fraction of the interval, so the nodes' sawtooths are out of phase, as they would
  be in a fleet that did not boot at one instant.

:class:`TrueTimeConfig` holds the knobs of the Spanner-style store's clocks.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.randomness import RandomSource
from archlab.sim.process import Address, Effect, Send, SetTimer
from archlab.txn.truetime import TimeReply, TimeRequest, TrueTime, master_reply

SYNC_TIMER = "tt-sync"


@dataclass(frozen=True)
class TrueTimeConfig:
    """How the store's clocks are kept: masters, polling, the assumed drift, commit wait.

    The defaults compress Spanner's sawtooth in time (polls every second, a 6 ms/s bound) so a
    short simulation sees the paper's 1-7 ms uncertainty cycle many times over.
    """

    masters: tuple[Address, ...]
    drift_bound: float = 6e-3
    interval: float = 1.0
    retry: float = 0.05
    master_epsilon: float = 0.0001
    commit_wait: bool = True
    snapshot_reads: bool = True


class TimeMaster:
    """A time master's logic: answer every request with the local reading."""

    def __init__(self, epsilon: float) -> None:
        self.epsilon = epsilon

    def on_request(self, now: float, src: Address, request: TimeRequest) -> list[Effect]:
        return [Send(src, master_reply(request, now, self.epsilon))]


class TimeSync:
    """The polling daemon of one node (see the module docstring)."""

    def __init__(self, truetime: TrueTime, config: TrueTimeConfig, rng: RandomSource) -> None:
        self.truetime = truetime
        self.config = config
        self.rng = rng
        self.pending: dict[int, float] = {}
        self.polls = 0
        self._first = True

    def start(self, now: float) -> list[Effect]:
        return self._poll(now)

    def on_timer(self, now: float) -> list[Effect]:
        return self._poll(now)

    def _poll(self, now: float) -> list[Effect]:
        nonce = self.rng.getrandbits(48)
        self.pending = {nonce: now}  # an unanswered earlier poll is abandoned
        master = self.config.masters[self.polls % len(self.config.masters)]
        self.polls += 1
        return [Send(master, TimeRequest(nonce)), SetTimer(SYNC_TIMER, self.config.retry)]

    def on_reply(self, now: float, reply: TimeReply) -> list[Effect]:
        sent = self.pending.pop(reply.nonce, None)
        if sent is None:
            return []
        self.truetime.on_sync(sent, now, reply.master_time, reply.master_epsilon)
        interval = self.config.interval
        if self._first:
            self._first = False
            interval *= self.rng.uniform(0.0, 1.0)
        return [SetTimer(SYNC_TIMER, interval)]
