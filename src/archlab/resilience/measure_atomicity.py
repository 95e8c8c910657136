"""Experiment ``resilience.rate_limit_atomicity`` (codex 9.3): atomic script vs read-then-write.

Many load processes, each with several threads, fire at one user's key; every limiter spends a
burst that refills too slowly to matter during the run, so the most it may admit is the burst
(:func:`~archlab.resilience.hammer.allowed_bound` adds what refills). Each of the five rules
runs as an atomic script; the token bucket also runs as a naive client that reads the state,
decides and writes it back. Against a real ``redis-server`` when one is installed, otherwise
against the in-memory store served to the processes over sockets (the report says which).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

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
from archlab.resilience.hammer import HammerResult, Kind, hammer
from archlab.resilience.limits import ALGORITHMS, Algorithm, Limit
from archlab.resilience.redisproc import RedisServer, redis_available

#: A limit admits at most its burst plus what refilled: one request more is a broken limit.
NO_OVER_ADMISSION = Threshold(0, "requests", "the limit's definition: burst + refill × elapsed")
#: The claim about the naive limiter is that it over-admits: one request over is enough.
RACE_SEEN = Threshold(1, "requests", "one admission past the limit shows the lost update")


@dataclass(frozen=True)
class LimiterRun:
    algorithm: str
    kind: str
    attempted: int
    admitted: int
    allowed: int

    @property
    def over(self) -> int:
        return max(0, self.admitted - self.allowed)


@dataclass(frozen=True)
class AtomicityMeasurement:
    transport: str
    runs: list[LimiterRun]

    def worst(self, kind: str) -> int:
        return max((r.over for r in self.runs if r.kind == kind), default=0)


def judge_atomicity(m: AtomicityMeasurement) -> Judgement:
    atomic = Evidence(
        "most requests over the limit, atomic scripts (all five rules)",
        m.worst("atomic"),
        "requests",
        at_most=NO_OVER_ADMISSION,
    )
    naive = Evidence(
        "most requests over the limit, naive read-then-write token bucket",
        m.worst("naive"),
        "requests",
        at_least=RACE_SEEN,
    )
    where = f"on {m.transport}"
    if not atomic.met:
        return refuted(
            f"an atomic script admitted {m.worst('atomic')} request(s) past the limit {where}",
            atomic,
            naive,
        )
    if not naive.met:
        return nuanced(
            f"the atomic scripts held the limit {where}, but the naive limiter did not "
            "over-admit in this run: the race was not reached at this concurrency",
            atomic,
            naive,
        )
    naive_run = max((r for r in m.runs if r.kind == "naive"), key=lambda r: r.over)
    return holds(
        f"every atomic script held its limit {where}; the naive read-then-write limiter "
        f"admitted {naive_run.admitted} of {naive_run.attempted} requests against a limit of "
        f"{naive_run.allowed} ({naive_run.admitted / naive_run.allowed:.1f}x)",
        atomic,
        naive,
    )


def _redis_version() -> str:
    binary = shutil.which("redis-server") or "redis-server"
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=5)
    except OSError:
        return "redis-server"
    for part in out.stdout.split():
        if part.startswith("v="):
            return f"redis-server {part[2:]}"
    return "redis-server"


def _limit(algorithm: Algorithm, burst: int) -> Limit:
    if algorithm in ("token_bucket", "gcra"):
        return Limit(algorithm, rate=1, period=3600.0, burst=burst)
    return Limit(algorithm, rate=burst, period=3600.0)


def _runs(where: Any, ctx: Context) -> list[LimiterRun]:
    p = ctx.params
    plan: list[tuple[Algorithm, Kind]] = [(a, "atomic") for a in ALGORITHMS]
    plan += [("token_bucket", "naive")] * int(p["naive_rounds"])
    runs = []
    with ctx.progress.task("limiters under concurrent load", len(plan)) as task:
        for i, (algorithm, kind) in enumerate(plan):
            result: HammerResult = hammer(
                where,
                kind,
                _limit(algorithm, int(p["burst"])),
                key=f"user-{i}",
                processes=int(p["processes"]),
                threads=int(p["threads"]),
                requests=int(p["requests"]),
            )
            runs.append(
                LimiterRun(algorithm, kind, result.attempted, result.admitted, result.allowed)
            )
            task.advance()
    return runs


@dataclass(frozen=True)
class _Figures:
    table: Table
    figure: Figure


def _present(m: AtomicityMeasurement) -> _Figures:
    table = Table(
        f"Admitted vs allowed ({m.transport})",
        [
            Column("rule"),
            Column("limiter"),
            Column("requests"),
            Column("admitted"),
            Column("allowed"),
            Column("over the limit"),
        ],
    )
    for r in m.runs:
        table.add(r.algorithm, r.kind, r.attempted, r.admitted, r.allowed, r.over)
    labels = [f"{r.algorithm} ({r.kind})" for r in m.runs]
    figure = Figure(
        "Requests admitted against the limit",
        y_label="requests",
        series=[
            Series("admitted", labels, [float(r.admitted) for r in m.runs], style="bar"),
            Series("allowed", labels, [float(r.allowed) for r in m.runs], style="bar"),
        ],
    )
    return _Figures(table, figure)


def measure(ctx: Context) -> Outcome[AtomicityMeasurement]:
    if redis_available():
        with RedisServer() as server:
            measured = AtomicityMeasurement(_redis_version(), _runs(server.port, ctx))
    else:
        from archlab.resilience.memserver import StoreManager

        authkey = secrets.token_bytes(16)
        manager = StoreManager(address=("127.0.0.1", 0), authkey=authkey)
        manager.start()
        try:
            runs = _runs(("memory", manager.address, authkey), ctx)
        finally:
            manager.shutdown()
        measured = AtomicityMeasurement("the in-memory store served over sockets", runs)
    shown = _present(measured)
    naive = [r for r in measured.runs if r.kind == "naive"]
    summary = (
        f"atomic: at most {measured.worst('atomic')} over the limit; naive: up to "
        f"{max((r.admitted for r in naive), default=0)} admitted against "
        f"{naive[0].allowed if naive else 0} allowed"
    )
    return Outcome(measured, summary=summary, tables=[shown.table], figures=[shown.figure])
