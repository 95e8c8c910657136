"""Experiment ``resilience.load_shedding`` (codex 9.3): shedding low priorities for critical ones.

A service of ``workers`` workers with a FIFO queue is offered more than it can serve, in
simulated time: four classes (critical 10%, POST 20%, GET 50%, test 20%), Poisson arrivals,
exponential service times, and clients that give up after a deadline (a request that has not
started by then fails). The same arrivals run four ways: no shedding; the fleet-usage shedder
(20% of capacity, counted as busy workers plus queued requests, kept for critical traffic);
the worker-utilization shedder (classes shed lowest first under pressure, with hysteresis);
and the utilization shedder without hysteresis, to count how often it flaps.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import dataclass
from typing import Literal

from archlab.lab import (
    Column,
    Context,
    Evidence,
    Figure,
    Judgement,
    Outcome,
    Series,
    Table,
    Threshold,
    holds,
    nuanced,
    refuted,
)
from archlab.resilience.shedding import (
    PRIORITIES,
    FleetUsageShedder,
    Priority,
    WorkerUtilizationShedder,
)

Mode = Literal["none", "fleet", "utilization", "utilization_no_hysteresis"]
MODES: tuple[Mode, ...] = ("none", "fleet", "utilization", "utilization_no_hysteresis")
MIX: dict[Priority, float] = {"critical": 0.1, "post": 0.2, "get": 0.5, "test": 0.2}

#: Stripe's shedders exist so that critical requests are not dropped under load; 99% leaves
#: room for the queueing tail at the deadline.
CRITICAL_KEPT = Threshold(99.0, "%", "Stripe: shedding keeps critical requests served (99%)")
#: The claim is about severe congestion: unless critical traffic suffers without shedding
#: (under 90% served), the overload was not severe enough to test it.
CONGESTED = Threshold(90.0, "%", "regime check: without shedding critical traffic must suffer")


@dataclass(frozen=True)
class ModeResult:
    mode: str
    served_pct: dict[str, float]  # per priority
    shed: int
    timed_out: int
    goodput: float  # requests served per second
    level_changes: int


@dataclass(frozen=True)
class SheddingMeasurement:
    offered: float
    results: list[ModeResult]

    def critical(self, mode: str) -> float:
        return next(r.served_pct["critical"] for r in self.results if r.mode == mode)

    def changes(self, mode: str) -> int:
        return next(r.level_changes for r in self.results if r.mode == mode)


def judge_shedding(m: SheddingMeasurement) -> Judgement:
    without = Evidence("critical requests served without shedding", round(m.critical("none"), 2),
                       "%", at_most=CONGESTED)  # fmt: skip
    fleet = Evidence("critical requests served, fleet-usage shedder", round(m.critical("fleet"), 2),
                     "%", at_least=CRITICAL_KEPT)  # fmt: skip
    util = Evidence("critical requests served, worker-utilization shedder",
                    round(m.critical("utilization"), 2), "%", at_least=CRITICAL_KEPT)  # fmt: skip
    flaps = Evidence(
        "shed-level changes with / without hysteresis",
        f"{m.changes('utilization')} / {m.changes('utilization_no_hysteresis')}",
    )
    evidence = (without, fleet, util, flaps)
    worse = [e for e in (fleet, util) if float(str(e.value)) <= m.critical("none")]
    if worse:
        return refuted(f"{worse[0].name}: {worse[0].value}%, no better than "
                       f"{m.critical('none'):.1f}% without shedding", *evidence)  # fmt: skip
    text = (
        f"at {m.offered:g}x capacity, {m.critical('none'):.1f}% of critical requests were served "
        f"without shedding, {m.critical('fleet'):.1f}% with the fleet-usage shedder and "
        f"{m.critical('utilization'):.1f}% with the worker-utilization shedder (its level changed "
        f"{m.changes('utilization')} times, {m.changes('utilization_no_hysteresis')} without "
        "hysteresis)"
    )
    if not without.met:
        return nuanced(text + ": the overload never hurt critical traffic", *evidence)
    if fleet.met and util.met:
        return holds(text, *evidence)
    return nuanced(text + f": shedding helped but kept under {CRITICAL_KEPT}", *evidence)


@dataclass
class _Service:
    workers: int
    mode: Mode
    fleet: FleetUsageShedder
    util: WorkerUtilizationShedder
    busy: int = 0
    queue: deque[tuple[float, Priority]] | None = None

    def pressure(self) -> float:
        assert self.queue is not None
        return min(1.0, (self.busy + len(self.queue)) / (2 * self.workers))

    def admits(self, priority: Priority) -> bool:
        assert self.queue is not None
        if self.mode == "fleet":
            return self.fleet.admits(priority, self.busy + len(self.queue))
        if self.mode.startswith("utilization"):
            return self.util.admits(priority)
        return True


def simulate(
    mode: Mode,
    arrivals: list[tuple[float, Priority]],
    workers: int,
    service_mean: float,
    deadline: float,
    seed: int,
) -> ModeResult:
    rng = random.Random(seed)
    hysteresis = mode != "utilization_no_hysteresis"
    util = WorkerUtilizationShedder(
        high=0.9 if hysteresis else 0.8,
        low=0.6 if hysteresis else 0.8,
        hold=1.0 if hysteresis else 0.0,
    )
    svc = _Service(workers, mode, FleetUsageShedder(2 * workers, 0.2), util, queue=deque())
    assert svc.queue is not None
    offered = dict.fromkeys(PRIORITIES, 0)
    served = dict.fromkeys(PRIORITIES, 0)
    shed = timed_out = 0
    events: list[tuple[float, int, str, Priority | None]] = []
    seq = 0
    for t, prio in arrivals:
        events.append((t, seq, "arrive", prio))
        seq += 1
    horizon = arrivals[-1][0] if arrivals else 0.0
    t = 0.0
    while t <= horizon:
        events.append((t, seq, "sample", None))
        seq += 1
        t += 0.1
    heapq.heapify(events)

    def start_next(now: float) -> None:
        nonlocal seq, timed_out
        assert svc.queue is not None
        while svc.busy < workers and svc.queue:
            arrived, p = svc.queue.popleft()
            if now - arrived > deadline:
                timed_out += 1
                continue
            svc.busy += 1
            served[p] += 1
            heapq.heappush(events, (now + rng.expovariate(1 / service_mean), seq, "done", p))
            seq += 1

    while events:
        now, _, kind, p = heapq.heappop(events)
        if kind == "sample":
            if mode.startswith("utilization"):
                svc.util.observe(svc.pressure(), now)
        elif kind == "done":
            svc.busy -= 1
            start_next(now)
        elif p is not None:
            offered[p] += 1
            if not svc.admits(p):
                shed += 1
                continue
            svc.queue.append((now, p))
            start_next(now)
    timed_out += len(svc.queue)
    span = max(horizon, 1e-9)
    return ModeResult(
        mode,
        {p: 100 * served[p] / max(1, offered[p]) for p in PRIORITIES},
        shed,
        timed_out,
        sum(served.values()) / span,
        util.changes,
    )


def make_arrivals(rng: random.Random, rate: float, seconds: float) -> list[tuple[float, Priority]]:
    out, t = [], rng.expovariate(rate)
    classes, weights = list(MIX), list(MIX.values())
    while t < seconds:
        out.append((t, rng.choices(classes, weights)[0]))
        t += rng.expovariate(rate)
    return out


def measure(ctx: Context) -> Outcome[SheddingMeasurement]:
    p = ctx.params
    workers, service = int(p["workers"]), float(p["service_ms"]) / 1000
    capacity = workers / service
    offered = float(p["offered"])
    arrivals = make_arrivals(ctx.rng("arrivals"), offered * capacity, float(p["seconds"]))
    results = []
    with ctx.progress.task("shedding modes", len(MODES)) as task:
        for mode in MODES:
            results.append(
                simulate(mode, arrivals, workers, service, float(p["deadline_s"]), ctx.seed)
            )
            task.advance()
    measured = SheddingMeasurement(offered, results)
    table = Table(
        f"{workers} workers, {capacity:.0f} requests/s of capacity, offered {offered:g}x",
        [
            Column("shedding"),
            *[Column(f"{prio} served", "%") for prio in PRIORITIES],
            Column("shed"),
            Column("timed out"),
            Column("goodput", "req/s"),
            Column("level changes"),
        ],
        note="A request that has not started within its deadline fails (the client gave up).",
    )
    for r in results:
        table.add(r.mode, *[r.served_pct[prio] for prio in PRIORITIES], r.shed, r.timed_out,
                  r.goodput, r.level_changes)  # fmt: skip
    figure = Figure(
        "Share of each class served under overload",
        y_label="% served",
        series=[
            Series(
                r.mode.replace("_", " "),
                [str(x) for x in PRIORITIES],
                [r.served_pct[x] for x in PRIORITIES],
                style="bar",
            )
            for r in results
        ],
    )
    summary = (
        f"critical served: {measured.critical('none'):.0f}% without shedding, "
        f"{measured.critical('fleet'):.0f}% fleet-usage, "
        f"{measured.critical('utilization'):.0f}% worker-utilization"
    )
    return Outcome(measured, summary=summary, tables=[table], figures=[figure])
