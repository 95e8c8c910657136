"""A reliable, ordered channel over the simulator's lossy network (what TCP gives OT).

The Jupiter protocol assumes each client–server link delivers every message once and in
order. :class:`Channel` provides that on :class:`archlab.sim.network.Network`: sequence
numbers per destination, cumulative acks, retransmission of unacknowledged messages every
50 ms, and a reorder buffer on the receiving side that also drops duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archlab.sim.kernel import Simulation
from archlab.sim.network import Network


@dataclass(frozen=True)
class Data:
    seq: int
    payload: Any


@dataclass(frozen=True)
class Ack:
    upto: int


class Channel:
    """One endpoint's reliable, ordered delivery to and from each peer over a lossy network."""

    def __init__(self, sim: Simulation, net: Network, me: str, deliver: Any) -> None:
        self.sim, self.net, self.me, self.deliver = sim, net, me, deliver
        self.next_seq: dict[str, int] = {}
        self.unacked: dict[str, dict[int, Any]] = {}
        self.expected: dict[str, int] = {}
        self.early: dict[str, dict[int, Any]] = {}
        net.attach(me, self._arrive)
        sim.after(0.05, self._retransmit)

    def send(self, dst: str, payload: Any) -> None:
        seq = self.next_seq.get(dst, 0)
        self.next_seq[dst] = seq + 1
        self.unacked.setdefault(dst, {})[seq] = payload
        self.net.send(self.me, dst, Data(seq, payload))

    def _retransmit(self) -> None:
        for dst, pending in self.unacked.items():
            for seq in list(pending)[:32]:
                self.net.send(self.me, dst, Data(seq, pending[seq]))
        self.sim.after(0.05, self._retransmit)

    def _arrive(self, src: str, message: Any) -> None:
        if isinstance(message, Ack):
            pending = self.unacked.get(src, {})
            for seq in [s for s in pending if s < message.upto]:
                del pending[seq]
            return
        assert isinstance(message, Data)
        want = self.expected.get(src, 0)
        if message.seq >= want:
            self.early.setdefault(src, {})[message.seq] = message.payload
        early = self.early.get(src, {})
        while want in early:
            payload = early.pop(want)
            want += 1
            self.expected[src] = want
            self.deliver(src, payload)
        self.net.send(self.me, src, Ack(want))
