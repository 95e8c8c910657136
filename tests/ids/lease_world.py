"""A seeded interleaving harness for the machine-id leases (until ``archlab.sim`` exists).

A tiny discrete-event world: one :class:`LeaseService` and several Snowflake generators, each a
:class:`LeaseHolder` plus a :class:`SnowflakeSequencer`, every node with its own clock (an
offset of up to seconds and a rate within the drift bound), a network that delays and drops
messages, and pauses (GC, VM stalls) that freeze a node while real time and its clock move on.

Two properties are checked on every run:

- **exclusive**: for each machine id, the real-time intervals during which two *different*
  holders would stamp with it never overlap (an interval runs from the moment a holder takes a
  lease to the real time its clock reaches the lease's end, or it drops the lease);
- **unique**: no Snowflake ID is issued twice (every live holder issues a burst at each of its
  ticks, through the same sequencer the real generator uses).
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from dataclasses import dataclass, field

from archlab.ids.errors import ClockMovedBackwardsError, NoMachineIdError
from archlab.ids.lease import (
    HeldLease,
    LeasedSnowflake,
    LeaseGrant,
    LeaseHolder,
    LeaseRequest,
    LeaseResponse,
    LeaseService,
)

BASE_MS = 1_700_000_000_000


@dataclass
class NodeClock:
    """``floor(offset + rate * t)`` in Unix ms at real time ``t`` (ms since the run started)."""

    offset: float
    rate: float

    def read(self, t: float) -> int:
        return math.floor(self.offset + self.rate * t)

    def real_time_of(self, reading: int) -> float:
        """The first real time at which the clock reads ``reading``."""
        return (reading - self.offset) / self.rate


@dataclass
class Tenure:
    holder: str
    machine: int
    start: float
    end: float


class FloorIgnoringSnowflake(LeasedSnowflake):
    """Broken: a new tenure starts from no floor, as if the service had not handed one over."""

    def floor_for(self, lease: HeldLease) -> int:
        return -1


@dataclass
class Node:
    holder: LeaseHolder
    clock: NodeClock
    generator: LeasedSnowflake
    paused_until: float = 0.0
    tenure_key: tuple[int, int] | None = None  # (tenure, token) being recorded


@dataclass
class WorldConfig:
    holders: int = 4
    machine_ids: int = 2
    ttl_ms: int = 200
    true_drift: float = 1e-3  # the clocks' actual rates lie within 1 ± true_drift
    assumed_drift: float = 1e-3  # what the holders are told (safe while ≥ true_drift)
    max_offset_ms: float = 3_000.0
    delay_ms: tuple[float, float] = (0.5, 40.0)
    loss: float = 0.1
    tick_ms: float = 4.0
    burst: int = 3
    pause_chance: float = 0.004  # per tick
    max_pause_ms: float = 700.0
    service_pause_chance: float = 0.002


@dataclass
class World:
    rng: random.Random
    config: WorldConfig = field(default_factory=WorldConfig)
    holder_class: type[LeaseHolder] = LeaseHolder
    ignore_floor: bool = False

    def __post_init__(self) -> None:
        c = self.config
        self.now = 0.0
        self.service = LeaseService(c.machine_ids, c.ttl_ms)
        self.service_clock = self._random_clock()
        self.service_paused_until = 0.0
        self.nodes: dict[str, Node] = {}
        for i in range(c.holders):
            name = f"g{i}"
            holder = self.holder_class(name, ttl_ms=c.ttl_ms, max_drift=c.assumed_drift)
            snowflake = (FloorIgnoringSnowflake if self.ignore_floor else LeasedSnowflake)(holder)
            self.nodes[name] = Node(holder, self._random_clock(), snowflake)
        self._queue: list[tuple[float, int, str, object]] = []
        self._seq = 0
        self.tenures: dict[tuple[str, int, int], Tenure] = {}
        self.issued: dict[int, tuple[str, float]] = {}
        self.duplicates: list[tuple[int, str, str]] = []
        for name in self.nodes:
            self._at(self.rng.uniform(0, c.tick_ms), "tick", name)

    def _random_clock(self) -> NodeClock:
        c = self.config
        offset = BASE_MS + self.rng.uniform(-c.max_offset_ms, c.max_offset_ms)
        return NodeClock(offset, 1 + self.rng.uniform(-c.true_drift, c.true_drift))

    def _at(self, when: float, kind: str, payload: object) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (when, self._seq, kind, payload))

    # ----------------------------------------------------------------- faults, from outside
    def pause(self, name: str, ms: float) -> None:
        node = self.nodes[name]
        node.paused_until = max(node.paused_until, self.now + ms)

    def pause_service(self, ms: float) -> None:
        self.service_paused_until = max(self.service_paused_until, self.now + ms)

    # ----------------------------------------------------------------------- the event loop
    def run(self, duration_ms: float) -> None:
        end = self.now + duration_ms
        while self._queue and self._queue[0][0] <= end:
            when, _, kind, payload = heapq.heappop(self._queue)
            self.now = when
            if kind == "tick":
                self._tick(str(payload))
            elif kind == "to_service":
                self._service_receives(payload)  # type: ignore[arg-type]
            else:
                self._holder_receives(payload)  # type: ignore[arg-type]
        self.now = end

    def _send(self, kind: str, message: object) -> None:
        lo, hi = self.config.delay_ms
        if self.rng.random() >= self.config.loss:
            self._at(self.now + self.rng.uniform(lo, hi), kind, message)

    def _tick(self, name: str) -> None:
        node = self.nodes[name]
        c = self.config
        if node.paused_until > self.now:
            self._at(node.paused_until, "tick", name)
            return
        self._at(self.now + c.tick_ms * self.rng.uniform(0.5, 1.5), "tick", name)
        local = node.clock.read(self.now)
        request = node.holder.poll(local)
        if request is not None:
            self._send("to_service", request)
        self._issue(name, node, local)
        self._record(name, node, local)
        if self.rng.random() < c.pause_chance:
            self.pause(name, self.rng.uniform(0, c.max_pause_ms))
        if self.rng.random() < c.service_pause_chance:
            self.pause_service(self.rng.uniform(0, c.max_pause_ms))

    def _service_receives(self, request: LeaseRequest) -> None:
        if self.service_paused_until > self.now:
            self._at(self.service_paused_until, "to_service", request)
            return
        response = self.service.handle(request, self.service_clock.read(self.now))
        self._send("to_holder", response)

    def _holder_receives(self, response: LeaseResponse) -> None:
        node = self.nodes[response.holder]
        if node.paused_until > self.now:
            self._at(node.paused_until, "to_holder", response)
            return
        local = node.clock.read(self.now)
        node.holder.on_response(response, local)
        self._record(response.holder, node, local)
        if isinstance(response, LeaseGrant):
            self._issue(response.holder, node, local)

    def _issue(self, name: str, node: Node, local: int) -> None:
        for _ in range(self.config.burst):
            try:
                value = node.generator.issue(local)
            except NoMachineIdError:
                return
            except ClockMovedBackwardsError:  # not past the floor yet: refuse, as "refuse" does
                return
            if value is None:
                return
            if value in self.issued:
                self.duplicates.append((value, self.issued[value][0], name))
            self.issued[value] = (name, self.now)

    def _record(self, name: str, node: Node, local: int) -> None:
        """Keep the real-time interval of the holder's current tenure up to date."""
        lease = node.holder.lease
        live = lease is not None and node.holder.machine(local) is not None
        key = (lease.tenure, lease.token) if live and lease is not None else None
        if node.tenure_key is not None and node.tenure_key != key:
            old = self.tenures[(name, *node.tenure_key)]
            old.end = min(old.end, self.now)  # dropped early (refusal, regression ...)
        node.tenure_key = key
        if key is None or lease is None:
            return
        end = node.clock.real_time_of(lease.valid_until)
        tenure = self.tenures.get((name, *key))
        if tenure is None:
            self.tenures[(name, *key)] = Tenure(name, lease.machine, self.now, end)
        else:
            tenure.end = end

    # ------------------------------------------------------------------------ the properties
    def overlaps(self) -> list[tuple[Tenure, Tenure]]:
        """Pairs of tenures of different holders on one machine id that overlap in real time."""
        by_machine: dict[int, list[Tenure]] = {}
        for tenure in self.tenures.values():
            by_machine.setdefault(tenure.machine, []).append(tenure)
        found = []
        for tenures in by_machine.values():
            tenures.sort(key=lambda t: t.start)
            for i, a in enumerate(tenures):
                for b in tenures[i + 1 :]:
                    if b.start >= a.end:
                        break
                    if a.holder != b.holder:
                        found.append((a, b))
        return found

    def violations(self) -> list[str]:
        out = [
            f"machine {a.machine}: {a.holder} [{a.start:.1f}, {a.end:.1f}) overlaps "
            f"{b.holder} [{b.start:.1f}, {b.end:.1f})"
            for a, b in self.overlaps()
        ]
        out += [f"ID {v} issued by {a} and again by {b}" for v, a, b in self.duplicates]
        return out

    def handovers(self) -> int:
        """How many times a machine id changed hands (so a run is not vacuous)."""
        by_machine: dict[int, list[Tenure]] = {}
        for tenure in self.tenures.values():
            by_machine.setdefault(tenure.machine, []).append(tenure)
        count = 0
        for tenures in by_machine.values():
            tenures.sort(key=lambda t: t.start)
            count += sum(1 for a, b in itertools.pairwise(tenures) if a.holder != b.holder)
        return count


def run_seed(
    seed: int,
    duration_ms: float = 3_000.0,
    *,
    config: WorldConfig | None = None,
    holder_class: type[LeaseHolder] = LeaseHolder,
    ignore_floor: bool = False,
) -> World:
    world = World(random.Random(seed), config or WorldConfig(), holder_class, ignore_floor)
    world.run(duration_ms)
    return world
