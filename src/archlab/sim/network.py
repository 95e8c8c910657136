"""The simulated network: per-link latency, loss, duplication, reordering, and partitions.

Endpoints are named by strings (``"n0"`` for servers, ``"c3"`` for clients) and attach a
delivery callback. :meth:`Network.send` decides, from the ``"network"`` random stream, whether
a message is lost, duplicated or held back, draws its latency from the link's distribution and
schedules its delivery. Without reordering a link is FIFO (like a TCP connection): a message
never overtakes an earlier one on the same link. A reordered message is held back by an extra
random delay and does not hold later ones up.

Partitions are sets of blocked *directed* links, checked when a message is sent and again when
it arrives (a message in flight when the partition starts is lost). Helpers build the shapes
the nemesis uses: symmetric (:meth:`Network.partition`), one-way (:meth:`Network.block`: A
hears B, B does not hear A), majority/minority (a symmetric split into two groups) and bridge
(:meth:`Network.bridge`: one node sees both sides). :meth:`Network.heal` removes them all.

Network-wide fault overlays (:meth:`Network.set_faults`) raise loss, duplication and
reordering on the links between a set of endpoints (the servers), on top of each link's own
configuration. Messages are delivered as the same object (duplicates too): sans-IO protocols
must treat messages as immutable values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from archlab.sim.kernel import Simulation
from archlab.sim.latency import Distribution, Uniform

Address = str
Deliver = Callable[[Address, Any], None]


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """How one directed link behaves when no fault is active.

    ``reorder`` is the probability that a message is held back by an extra delay drawn
    uniformly from ``[0, reorder_delay]`` and may be overtaken by later messages.
    """

    latency: Distribution = field(default_factory=lambda: Uniform(0.001, 0.005))
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay: float = 0.02

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"LinkConfig.{name} must be a probability, got {p}")


@dataclass(frozen=True, slots=True)
class FaultOverlay:
    """Extra loss / duplication / reordering on links among ``among`` (all links if None)."""

    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    among: frozenset[Address] | None = None

    def applies(self, src: Address, dst: Address) -> bool:
        return self.among is None or (src in self.among and dst in self.among)


def _combine(a: float, b: float) -> float:
    """Probability that at least one of two independent events happens."""
    return 1.0 - (1.0 - a) * (1.0 - b)


@dataclass
class NetworkStats:
    sent: int = 0
    delivered: int = 0
    lost: int = 0
    partitioned: int = 0
    duplicated: int = 0
    reordered: int = 0
    undeliverable: int = 0


class Network:
    """Delivers messages between attached endpoints through the simulation's event queue."""

    def __init__(
        self,
        sim: Simulation,
        default: LinkConfig | None = None,
        *,
        trace_messages: bool = True,
    ) -> None:
        self.sim = sim
        self.default = default or LinkConfig()
        self.rng = sim.rng("network")
        self.stats = NetworkStats()
        self.trace_messages = trace_messages and sim.trace.enabled
        self._endpoints: dict[Address, Deliver] = {}
        self._links: dict[tuple[Address, Address], LinkConfig] = {}
        self._blocked: set[tuple[Address, Address]] = set()
        self._fifo: dict[tuple[Address, Address], float] = {}
        self._overlay = FaultOverlay()

    # -- topology -----------------------------------------------------------------------

    def attach(self, address: Address, deliver: Deliver) -> None:
        """Deliver messages addressed to ``address`` by calling ``deliver(src, message)``."""
        self._endpoints[address] = deliver

    @property
    def addresses(self) -> list[Address]:
        return list(self._endpoints)

    def configure(self, src: Address, dst: Address, config: LinkConfig) -> None:
        """Give the directed link ``src -> dst`` its own behaviour."""
        self._links[(src, dst)] = config

    def link(self, src: Address, dst: Address) -> LinkConfig:
        return self._links.get((src, dst), self.default)

    # -- faults -------------------------------------------------------------------------

    def set_faults(self, overlay: FaultOverlay) -> None:
        """Replace the network-wide fault overlay (``FaultOverlay()`` clears it)."""
        self._overlay = overlay

    @property
    def faults(self) -> FaultOverlay:
        return self._overlay

    def block(self, senders: Iterable[Address], receivers: Iterable[Address]) -> None:
        """Drop every message from a sender to a receiver (one way: the reverse still flows)."""
        receivers = list(receivers)
        for s in senders:
            for r in receivers:
                if s != r:
                    self._blocked.add((s, r))

    def partition(self, *groups: Iterable[Address]) -> None:
        """Symmetric partition: no message crosses between different groups."""
        sets = [list(g) for g in groups]
        for i, a in enumerate(sets):
            for j, b in enumerate(sets):
                if i != j:
                    self.block(a, b)

    def bridge(self, left: Iterable[Address], bridge: Address, right: Iterable[Address]) -> None:
        """``left`` and ``right`` cannot talk; ``bridge`` talks to both."""
        self.partition([a for a in left if a != bridge], [b for b in right if b != bridge])

    def heal(self) -> None:
        """Remove every partition."""
        self._blocked.clear()

    def blocked(self, src: Address, dst: Address) -> bool:
        return (src, dst) in self._blocked

    @property
    def blocked_links(self) -> list[tuple[Address, Address]]:
        return sorted(self._blocked)

    # -- sending ------------------------------------------------------------------------

    def send(self, src: Address, dst: Address, message: Any) -> None:
        """Send ``message``; it arrives later, possibly twice, possibly never."""
        stats = self.stats
        stats.sent += 1
        trace = self.trace_messages
        if (src, dst) in self._blocked:
            stats.partitioned += 1
            if trace:
                self.sim.record("drop", src=src, dst=dst, why="partition", msg=message)
            return
        config = self._links.get((src, dst), self.default)
        rng = self.rng
        loss, dup, reorder = config.loss, config.duplicate, config.reorder
        overlay = self._overlay
        if (overlay.loss or overlay.duplicate or overlay.reorder) and overlay.applies(src, dst):
            loss = _combine(loss, overlay.loss)
            dup = _combine(dup, overlay.duplicate)
            reorder = _combine(reorder, overlay.reorder)
        if loss and rng.random() < loss:
            stats.lost += 1
            if trace:
                self.sim.record("drop", src=src, dst=dst, why="loss", msg=message)
            return
        copies = 2 if dup and rng.random() < dup else 1
        if copies == 2:
            stats.duplicated += 1
        now = self.sim.now
        for _ in range(copies):
            at = now + config.latency.sample(rng)
            if reorder and rng.random() < reorder:
                at += config.reorder_delay * rng.random()
                stats.reordered += 1
            else:
                key = (src, dst)
                last = self._fifo.get(key, 0.0)
                at = max(at, last)
                self._fifo[key] = at
            if trace:
                self.sim.record("send", src=src, dst=dst, at=round(at, 9), msg=message)
            self.sim.at(at, self._arrive, src, dst, message)

    def _arrive(self, src: Address, dst: Address, message: Any) -> None:
        if (src, dst) in self._blocked:
            self.stats.partitioned += 1
            if self.trace_messages:
                self.sim.record("drop", src=src, dst=dst, why="partition", msg=message)
            return
        deliver = self._endpoints.get(dst)
        if deliver is None:
            self.stats.undeliverable += 1
            return
        self.stats.delivered += 1
        deliver(src, message)
