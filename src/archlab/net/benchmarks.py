"""``archlab bench lb``: archlab's L4 and L7 proxies against HAProxy (``mode tcp`` and
``mode http``, ``nbthread 1``), same origin, same load generator, same pinning.

On a machine with at least two CPUs each proxy is pinned to CPU 1 with ``taskset`` and the
origin and load generator to CPU 0, so every proxy gets one core of its own. Each round
measures every system back to back (the order alternates): a closed loop for requests/s and an
open loop at a fixed rate for p50/p99 from intended send time. Direct-to-origin is the
baseline the added latency is measured from.
"""

from __future__ import annotations

import contextlib
import os
import statistics
from collections.abc import Callable, Iterator

from archlab.lab import BenchContext, BenchReport, Column, Ratio, benchmark
from archlab.lab.bench import median
from archlab.net import processes
from archlab.net.haproxy import haproxy_binary, start_haproxy
from archlab.net.loadgen import LoadResult, run, run_load

#: (closed-loop seconds, open-loop seconds, rounds) for --quick and the full run.
QUICK = (1.0, 1.0, 3)
FULL = (3.0, 3.0, 5)
CONCURRENCY = 32
RATE = 1000.0


@contextlib.contextmanager
def _affinity(cpus: set[int] | None) -> Iterator[None]:
    if cpus is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _trial(port: int, closed_s: float, open_s: float) -> tuple[LoadResult, LoadResult]:
    closed = run(
        lambda: run_load("127.0.0.1", port, seconds=closed_s, concurrency=CONCURRENCY, warmup=0.2)
    )
    opened = run(lambda: run_load("127.0.0.1", port, mode="open", rate=RATE, seconds=open_s))
    return closed, opened


@benchmark(
    name="lb",
    title="Load balancers: archlab L4/L7 vs HAProxy (codex 3.1)",
    description="""Requests/s (closed loop, 32 connections, keep-alive) and p50/p99 at a fixed
    1,000 requests/s (open loop, latency from intended send time) through archlab's L4 and L7
    proxies and HAProxy 'mode tcp' and 'mode http' (nbthread 1), in front of the same origin,
    driven by the same load generator; direct-to-origin is the baseline. Each proxy pinned to
    one core (CPU 1), origin and load generator on the other (CPU 0); rounds alternate.""",
)
def bench_lb(ctx: BenchContext) -> BenchReport:
    closed_s, open_s, rounds = QUICK if ctx.quick else FULL
    report = BenchReport(
        columns=[
            Column("system"),
            Column("req/s", "median"),
            Column("req/s min"),
            Column("req/s max"),
            Column("p50", "ms"),
            Column("p99", "ms"),
            Column("added p50", "ms"),
        ],
        rows=[],
    )
    two_cores = (os.cpu_count() or 1) >= 2
    proxy_cpu, load_cpu = ("1", "0") if two_cores else (None, None)
    have_haproxy = haproxy_binary() is not None
    if not have_haproxy:
        report.missing_peers.append("haproxy (apt-get install haproxy)")
    samples: dict[str, list[tuple[LoadResult, LoadResult]]] = {}
    with processes.children() as kids:
        origin = processes.start_child("origin", processes.origin_command("o", load_cpu))
        kids.append(origin)
        systems: dict[str, int] = {"direct": origin.port}
        for mode in ("l4", "l7"):
            child = processes.start_child(
                f"archlab {mode}", processes.proxy_command(mode, [origin.address], cpus=proxy_cpu)
            )
            kids.append(child)
            systems[f"archlab {mode}"] = child.port
        if have_haproxy:
            for mode in ("tcp", "http"):
                child = start_haproxy(mode, [origin.address], ctx.scratch, proxy_cpu)
                kids.append(child)
                systems[f"haproxy {mode}"] = child.port
        trials: dict[str, Callable[[], tuple[LoadResult, LoadResult]]] = {
            name: (lambda port=port: _trial(port, closed_s, open_s))  # type: ignore[misc]
            for name, port in systems.items()
        }
        with (
            _affinity({0} if two_cores else None),
            ctx.progress.task("direct, archlab, haproxy", rounds * len(trials)) as task,
        ):
            for round_no in range(rounds):
                order = list(trials.items())
                if round_no % 2:
                    order.reverse()
                for name, trial in order:
                    samples.setdefault(name, []).append(trial())
                    task.advance()
    rps = {n: [c.rps for c, _ in s] for n, s in samples.items()}
    p50 = {n: [o.p50_ms for _, o in s] for n, s in samples.items()}
    p99 = {n: [o.p99_ms for _, o in s] for n, s in samples.items()}
    added = {
        n: [max(1e-3, a - d) for a, d in zip(p50[n], p50["direct"], strict=True)] for n in samples
    }
    for name in samples:
        report.rows.append(
            {
                "system": name,
                "req/s": median(rps[name]),
                "req/s min": min(rps[name]),
                "req/s max": max(rps[name]),
                "p50": statistics.median(p50[name]),
                "p99": statistics.median(p99[name]),
                "added p50": None if name == "direct" else statistics.median(added[name]),
            }
        )
    pairs = (("archlab l7", "haproxy http", 0.3), ("archlab l4", "haproxy tcp", 0.5))
    for ours, peer, goal in pairs:
        report.ratios.append(
            Ratio.of_rounds(f"{ours} / {peer} req/s", rps[ours], rps.get(peer), goal=goal)
        )
    for ours, peer, _ in pairs:
        report.ratios.append(
            Ratio.of_rounds(
                f"{ours} / {peer} added p50 latency",
                added[ours],
                added.get(peer),
                goal=2.0,
                higher_is_better=False,
            )
        )
    report.notes.append(
        (
            f"Pinning: each proxy on CPU {proxy_cpu}; origin and load generator on CPU {load_cpu} "
            "(taskset and sched_setaffinity). "
            if two_cores
            else "One CPU: nothing pinned. "
        )
        + "The load generator is Python (asyncio, uvloop) and shares its core with the origin, "
        "so the direct row is the ceiling every proxy's requests/s is measured under: a proxy "
        "faster than that ceiling shows as equal to it. Added p50 is each round's p50 minus "
        "direct's p50 in the same round (floored at 1 µs)."
    )
    return report
