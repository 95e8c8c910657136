"""A path-vector routing protocol with MRAI batching, for anycast failover (codex 3.2).

Autonomous systems exchange routes to one anycast prefix announced by several PoPs. Each AS
keeps the routes its neighbours advertised (Adj-RIB-In), picks the shortest AS path (ties: the
lowest neighbour id), drops paths that contain itself, and tells its neighbours when its best
route changes. Advertisements to a neighbour are batched by that neighbour's MRAI timer
(30 s by default for eBGP, jittered to 0.75-1.0 of it, RFC 4271 §9.2.1.1); withdrawals go out
at once, unless ``rate_limit_withdrawals`` (WRATE) holds them back too, as some
implementations do. When a PoP withdraws, ASes that used it fall back on routes their
neighbours have not yet withdrawn — *path exploration* — which is why a withdrawal can take
several MRAI rounds to converge (Labovitz et al., docs/references.md §3).

Runs on :class:`archlab.sim.kernel.Simulation`'s virtual clock; sans-IO, seeded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from archlab.sim.kernel import Simulation

Path = tuple[int, ...]  # AS numbers from the neighbour to the origin


@dataclass
class Router:
    asn: int
    neighbours: list[int] = field(default_factory=list)
    rib_in: dict[int, Path] = field(default_factory=dict)  # neighbour -> its best path
    best: Path | None = None
    origin_of: int | None = None  # the PoP (origin AS) this AS announces itself, if any
    pending: dict[int, Path | None] = field(default_factory=dict)  # neighbour -> to advertise
    mrai_busy: dict[int, bool] = field(default_factory=dict)


class PathVector:
    def __init__(
        self,
        sim: Simulation,
        links: list[tuple[int, int]],
        mrai: float = 30.0,
        link_delay: float = 0.05,
        on_change: Callable[[int], None] | None = None,
        rate_limit_withdrawals: bool = False,
    ) -> None:
        self.sim = sim
        self.mrai = mrai
        #: WRATE: hold withdrawals back by the MRAI timer too, as some implementations do
        self.rate_limit_withdrawals = rate_limit_withdrawals
        self.link_delay = link_delay
        self.routers: dict[int, Router] = {}
        for a, b in links:
            self.routers.setdefault(a, Router(a)).neighbours.append(b)
            self.routers.setdefault(b, Router(b)).neighbours.append(a)
        self.down_links: set[frozenset[int]] = set()
        self.pops: set[int] = set()
        self.updates = 0
        self.on_change = on_change
        self._rng = sim.rng("bgp.mrai")

    # -- origin and link events ----------------------------------------------------------

    def announce(self, asn: int) -> None:
        router = self.routers[asn]
        router.origin_of = asn
        self.pops.add(asn)
        self._reselect(router)

    def withdraw(self, asn: int) -> None:
        router = self.routers[asn]
        router.origin_of = None
        self._reselect(router)

    def link_down(self, a: int, b: int) -> None:
        self.down_links.add(frozenset((a, b)))
        for x, y in ((a, b), (b, a)):
            router = self.routers[x]
            router.rib_in.pop(y, None)
            router.pending.pop(y, None)
            self._reselect(router)

    def link_up(self, a: int, b: int) -> None:
        self.down_links.discard(frozenset((a, b)))
        for x, y in ((a, b), (b, a)):
            router = self.routers[x]
            if router.best is not None:
                self._queue(router, y, router.best)

    # -- the protocol --------------------------------------------------------------------

    def _reselect(self, router: Router) -> None:
        if router.origin_of is not None:
            best: Path | None = ()
        else:
            candidates = [(len(p), n, p) for n, p in router.rib_in.items() if router.asn not in p]
            best = (min(candidates)[1],) + min(candidates)[2] if candidates else None
        if best == router.best:
            return
        router.best = best
        if self.on_change is not None:
            self.on_change(router.asn)
        for n in router.neighbours:
            if frozenset((router.asn, n)) not in self.down_links:
                self._queue(router, n, best)

    def _queue(self, router: Router, neighbour: int, path: Path | None) -> None:
        router.pending[neighbour] = path
        if path is None and not self.rate_limit_withdrawals:
            self._send(router, neighbour)  # RFC 4271: MRAI does not hold back withdrawals
        elif not router.mrai_busy.get(neighbour):
            self._send(router, neighbour)

    def _send(self, router: Router, neighbour: int) -> None:
        if neighbour not in router.pending:
            return
        path = router.pending.pop(neighbour)
        self.updates += 1
        self.sim.after(self.link_delay, self._receive, neighbour, router.asn, path)
        if path is not None or self.rate_limit_withdrawals:
            router.mrai_busy[neighbour] = True
            wait = self.mrai * self._rng.uniform(0.75, 1.0)
            self.sim.after(wait, self._mrai_expired, router.asn, neighbour)

    def _mrai_expired(self, asn: int, neighbour: int) -> None:
        router = self.routers[asn]
        router.mrai_busy[neighbour] = False
        if neighbour in router.pending:
            self._send(router, neighbour)

    def _receive(self, asn: int, sender: int, path: Path | None) -> None:
        if frozenset((asn, sender)) in self.down_links:
            return
        router = self.routers[asn]
        if path is None:
            router.rib_in.pop(sender, None)
        else:
            router.rib_in[sender] = path
        self._reselect(router)

    # -- the data plane ------------------------------------------------------------------

    def delivers_to(self, asn: int, live: set[int]) -> int | None:
        """The live PoP that traffic from ``asn`` reaches hop by hop, or None (blackholed,
        looped, or sent towards a PoP that is down)."""
        seen = set()
        here = asn
        while here not in seen:
            seen.add(here)
            router = self.routers[here]
            if here in self.pops:
                return here if here in live and router.origin_of is not None else None
            if not router.best:
                return None
            nxt = router.best[0]
            if frozenset((here, nxt)) in self.down_links:
                return None
            here = nxt
        return None
