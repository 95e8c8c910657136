"""``archlab bench check``: how fast the checkers are (codex 5.1).

There is no Python linearizability or Elle checker to run beside archlab's in the same
process, so this benchmark reports absolute rates (operations checked per second, medians of
several rounds) and compares the time per Jepsen-etcd-like history with Porcupine's published
figure (REFERENCES.md: ≤ 0.16 s per etcd history, in Go, on its authors' hardware). That ratio
is against a published number, not a same-run peer, and the report says so.

Workloads, each generated from a seed by a correct concurrent object
(:mod:`~archlab.check.generate`, :mod:`~archlab.check.databases`), so every check must say
valid; a verdict other than True is reported in the table rather than timed silently.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archlab.check.databases import TxnWorkload, txn_history
from archlab.check.generate import Kind, register_history
from archlab.check.history import Event
from archlab.check.isolation import check_isolation
from archlab.check.linearizability import check_linearizable
from archlab.lab.bench import BenchContext, BenchReport, Ratio, benchmark, median, percentile
from archlab.lab.result import Column

#: Porcupine's published time per Jepsen etcd history (REFERENCES.md), seconds.
PORCUPINE_ETCD_S = 0.16


@dataclass(frozen=True)
class _Workload:
    name: str
    checker: str
    ops: int
    processes: int
    make: Callable[[random.Random], list[Event]]
    check: Callable[[list[Event]], Any]


def _workloads(quick: bool) -> list[_Workload]:
    def lin(kind: Kind, ops: int, processes: int, keys: int = 1) -> _Workload:
        def make(rng: random.Random) -> list[Event]:
            return register_history(
                rng, kind=kind, ops=ops, processes=processes, keys=keys, info_rate=0.1
            )

        def check(events: list[Event]) -> Any:
            return check_linearizable(events, kind, time_limit=120).valid

        name = f"{kind}, {_k(ops)} ops, {processes} procs" + (f", {keys} keys" if keys > 1 else "")
        return _Workload(name, "linearizable", ops, processes, make, check)

    def iso(workload: TxnWorkload, txns: int, processes: int) -> _Workload:
        def make(rng: random.Random) -> list[Event]:
            return txn_history(
                rng, workload=workload, txns=txns, processes=processes, keys=max(txns // 100, 4)
            )

        def check(events: list[Event]) -> Any:
            return check_isolation(
                events, workload=workload, consistency="strict-serializable"
            ).valid

        name = f"{workload}, {_k(txns)} txns, {processes} procs"
        return _Workload(name, "strict-serializable", txns, processes, make, check)

    workloads = [
        lin("cas-register", 1_000, 5),
        lin("register", 1_000, 20),
        lin("cas-register", 10_000, 10),
        lin("kv", 10_000, 20, keys=100),
        iso("list-append", 1_000, 10),
        iso("rw-register", 1_000, 10),
    ]
    if not quick:
        workloads += [
            lin("cas-register", 100_000, 5),
            lin("kv", 100_000, 20, keys=1_000),
            iso("list-append", 10_000, 20),
        ]
    return workloads


def _k(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def _check_cas_register(events: list[Event]) -> Any:
    return check_linearizable(events, "cas-register", time_limit=60).valid


def _time(fn: Callable[[list[Event]], Any], events: list[Event]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn(events)
    return time.perf_counter() - started, out


@benchmark(
    name="check",
    title="History checkers: operations checked per second",
    description="Linearizability (Wing & Gong with Lowe's cache, P-compositional kv) and "
    "Elle-style isolation on generated histories with timed-out (info) operations, plus "
    "Jepsen-etcd-like cas-register histories (5 clients, a few hundred ops, many timeouts) "
    "against Porcupine's published time per etcd history. No Python peer exists to run in "
    "the same process: rates are absolute, the etcd ratio is against a published figure.",
)
def bench_check(ctx: BenchContext) -> BenchReport:
    rounds = 3 if ctx.quick else 5
    rows: list[dict[str, Any]] = []
    workloads = _workloads(ctx.quick)
    with ctx.progress.task("workloads", len(workloads) + 1) as task:
        for w in workloads:
            rng = random.Random(ctx.seed)
            events = w.make(rng)
            seconds = []
            verdict: Any = None
            for _ in range(rounds):
                elapsed, verdict = _time(w.check, events)
                seconds.append(elapsed)
            rows.append(
                {
                    "workload": w.name,
                    "checker": w.checker,
                    "ops": w.ops,
                    "info_ops": sum(1 for e in events if e.type == "info"),
                    "verdict": str(verdict),
                    "median": median(seconds),
                    "ops_per_s": w.ops / median(seconds),
                }
            )
            task.advance()
        etcd_row, etcd_times = _etcd_like(ctx, 20 if ctx.quick else 100)
        rows.append(etcd_row)
        task.advance()
    slowest = max(etcd_times)
    typical = median(etcd_times)
    return BenchReport(
        columns=[
            Column("workload"),
            Column("checker"),
            Column("ops", description="operations (transactions) per history"),
            Column("info_ops", description="operations that timed out"),
            Column("verdict"),
            Column("median", "s", "median check time"),
            Column("p95", "s", "95th percentile (etcd-like histories)"),
            Column("max", "s", "slowest (etcd-like histories)"),
            Column("ops_per_s", description="operations checked per second"),
        ],
        rows=rows,
        ratios=[
            Ratio(
                "Porcupine's published 0.16 s per etcd history ÷ archlab's median per "
                "etcd-like history (a published Go figure, not a same-run peer)",
                PORCUPINE_ETCD_S / typical,
                goal=0.33,  # REFERENCES.md: CPython "can stay within a few times that"
            ),
            Ratio(
                "1 s ÷ archlab's slowest etcd-like history (the issue: well under a second each)",
                1.0 / slowest,
                goal=2.0,
            ),
        ],
        notes=[
            "Porcupine's 0.16 s is quoted from its authors (REFERENCES.md), measured in Go on "
            "other hardware on Jepsen's recorded etcd histories; archlab's etcd-like histories "
            "are generated (same shape: one cas-register, 5 clients, values 0-4, about a third "
            "of the operations timed out). The ratio places the two side by side; it is not a "
            "measurement of Porcupine here. Every history comes from a correct object, so "
            "every verdict must be True.",
        ],
    )


def _etcd_like(ctx: BenchContext, histories: int) -> tuple[dict[str, Any], list[float]]:
    """Histories shaped like Jepsen's etcd tests: one cas-register, 5 clients, values 0-4,
    a few hundred operations of which about a third time out."""
    rng = random.Random(ctx.seed)
    times = []
    verdicts = set()
    ops = infos = 0
    for _ in range(histories):
        events = register_history(
            rng,
            kind="cas-register",
            processes=5,
            ops=rng.randint(150, 400),
            values=5,
            info_rate=0.3,
        )
        ops += sum(1 for e in events if e.type == "invoke")
        infos += sum(1 for e in events if e.type == "info")
        elapsed, verdict = _time(_check_cas_register, events)
        times.append(elapsed)
        verdicts.add(str(verdict))
    return (
        {
            "workload": f"etcd-like: {histories} cas-register histories, 150-400 ops, 5 procs",
            "checker": "linearizable",
            "ops": ops // histories,
            "info_ops": infos // histories,
            "verdict": ", ".join(sorted(verdicts)),
            "median": median(times),
            "p95": percentile(times, 95),
            "max": max(times),
            "ops_per_s": ops / sum(times),
        },
        times,
    )
