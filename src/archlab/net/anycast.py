"""Anycast vs DNS failover, and route flaps with and without edge consistent hashing
(codex 3.2), in the simulator.

The Internet part cannot run on one machine, so it is simulated with parameters from
published measurements (docs/references.md §3):

* **Topology**: a tier-1 clique, regional ISPs multi-homed to two tier-1s, client regions
  (stub ASes) multi-homed to regionals, and PoPs attached to two regionals each.
* **Anycast**: every PoP announces the same prefix over :mod:`archlab.net.bgp` (path vector,
  MRAI 30 s). A PoP fails, is detected after ``detect_s`` and withdraws; a client region's
  failover time is when its traffic last starts reaching a live PoP, followed hop by hop.
* **DNS unicast**: the authority stops handing out the dead PoP after ``detect_s``; a client
  then waits for its resolver's cached answer to expire (uniform over the TTL), longer when
  its resolver ignores the TTL, and much longer when its application caches the address
  (the long tail operators report).
* **Route flaps**: links fail and return; a client region whose traffic moves to another PoP
  breaks its open connections when state lives at the PoP. With edge consistent hashing
  (every PoP maps a flow through the same Maglev table of backends,
  :class:`archlab.net.policies.Maglev`) a connection breaks only if the backend table itself
  changed under it (backend churn), which the table keeps to about 1/N of the flows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from archlab.net.bgp import PathVector
from archlab.net.policies import Maglev
from archlab.randomness import RandomSource
from archlab.sim.kernel import Simulation
from archlab.sim.trace import Trace

TIER1 = [1, 2, 3, 4]
REGIONALS = list(range(11, 19))
STUBS = list(range(201, 225))
POPS = [101, 102, 103, 104]


def topology(rng: RandomSource) -> list[tuple[int, int]]:
    links = [(a, b) for i, a in enumerate(TIER1) for b in TIER1[i + 1 :]]
    for r in REGIONALS:
        links += [(r, t) for t in rng.sample(TIER1, 2)]
    for s in STUBS:
        links += [(s, r) for r in rng.sample(REGIONALS, 1 if rng.random() < 0.5 else 2)]
    for p in POPS:  # PoPs buy transit from regional ISPs, as most CDNs' sites do
        links += [(p, r) for r in rng.sample(REGIONALS, 2)]
    return links


@dataclass(frozen=True)
class DnsBehaviour:
    """Resolver and application caching, from published measurements (§3)."""

    ignore_ttl_fraction: float = 0.03  # resolvers holding answers past their TTL
    ignore_ttl_median_s: float = 1800.0
    app_cache_fraction: float = 0.02  # applications caching the address until restart
    app_cache_median_s: float = 6 * 3600.0


def _lognormal(rng: RandomSource, median: float, sigma: float) -> float:
    u1, u2 = 1.0 - rng.random(), rng.random()
    z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)  # Box-Muller
    return median * math.exp(sigma * z)


def dns_failover_times(
    rng: RandomSource, clients: int, ttl: float, detect_s: float, dns: DnsBehaviour
) -> list[float]:
    """Seconds until each of ``clients`` reaches a live PoP after the failure."""
    out = []
    for _ in range(clients):
        wait = rng.uniform(0, ttl)  # the cached answer was fetched some time in the last TTL
        if rng.random() < dns.ignore_ttl_fraction:
            wait = max(wait, _lognormal(rng, dns.ignore_ttl_median_s, 1.0))
        if rng.random() < dns.app_cache_fraction:
            wait = max(wait, _lognormal(rng, dns.app_cache_median_s, 1.5))
        out.append(detect_s + wait)
    return out


@dataclass(frozen=True)
class AnycastFailover:
    per_region_s: dict[int, float]  # affected stub AS -> failover seconds
    updates: int
    failed_pop: int


def anycast_failover(
    seed: int,
    mrai: float = 30.0,
    detect_s: float = 10.0,
    horizon: float = 3600.0,
    rate_limit_withdrawals: bool = False,
) -> AnycastFailover:
    sim = Simulation(seed, Trace(enabled=False))
    pv = PathVector(
        sim,
        topology(sim.rng("topology")),
        mrai=mrai,
        rate_limit_withdrawals=rate_limit_withdrawals,
    )
    for pop in POPS:
        pv.announce(pop)
    sim.run()
    live = set(POPS)
    serving = {s: pv.delivers_to(s, live) for s in STUBS}
    counts = {p: sum(1 for v in serving.values() if v == p) for p in POPS}
    failed = max(POPS, key=lambda p: (counts[p], -p))
    affected = [s for s in STUBS if serving[s] == failed]
    start = sim.now + 1.0
    live.discard(failed)
    last_ok: dict[int, float | None] = dict.fromkeys(affected, None)

    def observe(_: int) -> None:
        for s in affected:
            reached = pv.delivers_to(s, live)
            if reached is None:
                last_ok[s] = None
            elif last_ok[s] is None:
                last_ok[s] = sim.now

    pv.on_change = observe
    sim.at(start + detect_s, pv.withdraw, failed)
    sim.run(until=start + horizon)
    return AnycastFailover(
        {s: (t - start) if t is not None else horizon for s, t in last_ok.items()},
        pv.updates,
        failed,
    )


@dataclass(frozen=True)
class FlapDamage:
    connections: int
    moved_pop: int  # connections whose region's traffic moved to another PoP mid-life
    broken_pop_state: int  # broken when connection state lives at the PoP
    broken_edge_hashing: int  # broken with the same Maglev table at every PoP
    flaps: int


def flap_damage(
    seed: int,
    hours: float = 2.0,
    flaps_per_hour: float = 6.0,
    connections_per_region: int = 100,
    backends: int = 20,
    backend_changes_per_hour: float = 1.0,
    mrai: float = 30.0,
) -> FlapDamage:
    """Long-lived connections over ``hours`` of route flaps and backend changes.

    State at the PoP: a connection breaks when its region's traffic moves to another PoP or
    its backend is removed. Edge consistent hashing (every PoP maps a flow through the same
    Maglev table, and tracks the flows it has seen, as Maglev does): a moved connection lands
    on the same backend unless the table changed its key since the connection started.
    """
    sim = Simulation(seed, Trace(enabled=False))
    links = topology(sim.rng("topology"))
    pv = PathVector(sim, links, mrai=mrai)
    for pop in POPS:
        pv.announce(pop)
    sim.run()
    t0, horizon = sim.now, hours * 3600
    live = set(POPS)
    history: dict[int, list[tuple[float, int | None]]] = {
        s: [(t0, pv.delivers_to(s, live))] for s in STUBS
    }

    def observe(_: int) -> None:
        for s in STUBS:
            now = pv.delivers_to(s, live)
            if history[s][-1][1] != now:
                history[s].append((sim.now, now))

    pv.on_change = observe
    rng = sim.rng("flaps")
    flappable = [link for link in links if link[0] in REGIONALS or link[0] in STUBS]
    flaps = round(flaps_per_hour * hours)
    for _ in range(flaps):
        a, b = rng.choice(flappable)
        at = t0 + rng.uniform(0, horizon)
        sim.at(at, pv.link_down, a, b)
        sim.at(at + rng.uniform(30, 300), pv.link_up, a, b)
    sim.run(until=t0 + horizon + 600)
    crng = sim.rng("backends")
    names = [f"b{i}" for i in range(backends)]
    tables: list[tuple[float, Maglev, str]] = [(t0, Maglev(names, table_size=4099), "")]
    changes = sorted(
        t0 + crng.uniform(0, horizon) for _ in range(round(backend_changes_per_hour * hours))
    )
    for i, when in enumerate(changes):
        gone = crng.choice(names)  # a backend replaced (deploy, failure)
        names = [n for n in names if n != gone] + [f"b{backends + i}"]
        tables.append((when, Maglev(names, table_size=4099), gone))
    crng2 = sim.rng("connections")
    total = moved = broken_pop = broken_ch = 0
    for s in STUBS:
        for c in range(connections_per_region):
            start = t0 + crng2.uniform(0, horizon)
            end = start + _lognormal(crng2, 300.0, 1.0)
            total += 1
            key = f"{s}-{c}"
            backend = _table_at(tables, start).choose(key, {})
            removed = any(start < t <= end and gone == backend for t, _, gone in tables)
            first_pop = _at(history[s], start)
            moves = [t for t, p in history[s] if start < t <= end and p != first_pop]
            moved += bool(moves)
            broken_pop += bool(moves) or removed
            rehashed = any(_table_at(tables, t).choose(key, {}) != backend for t in moves)
            broken_ch += removed or rehashed
    return FlapDamage(total, moved, broken_pop, broken_ch, flaps)


def _at(history: list[tuple[float, int | None]], t: float) -> int | None:
    current = history[0][1]
    for when, pop in history:
        if when > t:
            break
        current = pop
    return current


def _table_at(tables: list[tuple[float, Maglev, str]], t: float) -> Maglev:
    current = tables[0][1]
    for when, table, _ in tables:
        if when > t:
            break
        current = table
    return current
