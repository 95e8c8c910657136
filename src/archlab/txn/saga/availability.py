"""Codex 6.1: with one participant partitioned away, two-phase commit stops; a saga goes on.

``txn.partition_availability`` cuts one bank of the transfer domain
(:mod:`archlab.txn.saga.transfer`) off from every other server and measures which share of the
transfers invoked meanwhile succeed under two-phase commit, under an orchestrated saga whose
client waits for the end, and under the same saga answering once the request is durably
accepted; after the heal, whether every accepted saga finished and the money was conserved.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from archlab.check.history import Event
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
    experiment,
    holds,
    nuanced,
    refuted,
)
from archlab.sim.latency import Uniform
from archlab.sim.nemesis import FaultPlan
from archlab.txn.saga.isolation import SAGA_REFERENCE
from archlab.txn.saga.orchestrator import OrchestratorConfig
from archlab.txn.saga.transfer import Design, TransferSetup, transfer_world
from archlab.txn.twopc.coordinator import CoordinatorConfig

#: Every transfer touches both banks, and 2PC needs every participant's vote: none invoked
#: while one bank is cut off can commit (those prepared before the cut are not counted).
TWOPC_DURING = Threshold(
    0.0, "share", "codex 6.1: 2PC needs every participant's vote; every transfer needs both banks"
)
#: "Favours availability": a saga keeps succeeding as it did before the partition. Held to its
#: own baseline less a tenth, the requests that can fall in the partition's first client
#: timeout (0.1 s of the quick profile's 1 s partition).
SAGA_KEPT = Threshold(
    0.9, "x", "the saga's own success rate before the partition, less one client timeout in 1 s"
)
#: Safety after the heal: every accepted saga finishes, money is conserved.
NONE = Threshold(
    0, "", "Sagas (Garcia-Molina & Salem 1987): every saga completes or is compensated"
)


_SAGA_END = re.compile(r"^saga (\S+) (committed|compensated)$")


@dataclass
class _Availability:
    label: str
    runs: int = 0
    during: int = 0
    during_ok: int = 0
    before: int = 0
    before_ok: int = 0
    latencies: list[float] = field(default_factory=list)
    conserved: int = 0
    unfinished: int = 0
    drain: list[float] = field(default_factory=list)

    @property
    def availability(self) -> float:
        return self.during_ok / self.during if self.during else 0.0

    @property
    def baseline(self) -> float:
        return self.before_ok / self.before if self.before else 0.0

    def measured(self) -> DesignAvailability:
        return DesignAvailability(round(self.availability, 4), round(self.baseline, 4), self.during)


@dataclass(frozen=True)
class DesignAvailability:
    """Success rates of one design before and during the partition."""

    during: float  # share of transfers invoked during the partition that succeeded
    before: float  # the same share before it
    invoked_during: int


@dataclass(frozen=True)
class AvailabilityMeasurement:
    runs: int
    runs_conserved: int
    twopc: DesignAvailability
    saga_waiting: DesignAvailability
    saga_async: DesignAvailability
    sagas_unfinished: int
    drain_ms: float  # the latest saga end after the heal


def judge_partition_availability(m: AvailabilityMeasurement) -> Judgement:
    unfinished = Evidence(
        "accepted sagas unfinished after the heal", m.sagas_unfinished, at_most=NONE
    )
    lost = Evidence("runs not conserving money", m.runs - m.runs_conserved, "runs", at_most=NONE)
    twopc = Evidence(
        "2PC transfers succeeding during the partition",
        m.twopc.during,
        "share",
        at_most=TWOPC_DURING,
    )
    kept_async = Evidence(
        "asynchronous saga's success, during / before",
        _kept(m.saga_async),
        "x",
        at_least=SAGA_KEPT,
    )
    kept_waiting = Evidence(
        "waiting saga's success, during / before",
        _kept(m.saga_waiting),
        "x",
        at_least=SAGA_KEPT,
    )
    evidence = (unfinished, lost, twopc, kept_async, kept_waiting)
    text = (
        f"with one bank cut off, transfers succeeded {m.twopc.during:.0%} of the time under "
        f"two-phase commit, {m.saga_waiting.during:.0%} as sagas whose client waits for the end "
        f"and {m.saga_async.during:.0%} as sagas accepted asynchronously (baselines before the "
        f"partition {m.twopc.before:.0%}, {m.saga_waiting.before:.0%}, "
        f"{m.saga_async.before:.0%}); every accepted saga finished {m.drain_ms:.0f} ms after "
        f"the heal at the latest; money conserved in {m.runs_conserved}/{m.runs} runs"
    )
    if not (unfinished.met and lost.met):
        return refuted(text + ": the sagas did not complete after the heal", *evidence)
    if m.saga_async.during <= m.twopc.during:
        return refuted(text + ": the saga was no more available than 2PC", *evidence)
    if not twopc.met:
        return nuanced(text + ": 2PC kept committing with a participant cut off", *evidence)
    if not kept_async.met:
        return nuanced(text + ": the saga lost availability too, if less than 2PC", *evidence)
    if not kept_waiting.met:
        return nuanced(
            f"{text}; the saga's availability is its asynchronous acceptance: a client that "
            f"waits for the outcome waits out the partition",
            *evidence,
        )
    return holds(text, *evidence)


def _kept(design: DesignAvailability) -> float:
    return round(design.during / design.before, 3) if design.before else 0.0


@experiment(
    id="txn.partition_availability",
    section="6.1",
    title="One participant partitioned away: two-phase commit vs a saga",
    claim="""Two-phase commit needs every participant to vote, so a transaction touching a
    participant that cannot be reached fails (and holds the locks of the other participants
    until it does);
    a saga favours availability: it takes the request and completes each step when the
    service can be reached.""",
    method="""The transfer domain (two banks, a ledger); every transfer touches both banks.
    At 0.3 s the second bank is cut off from every other server for `partition` seconds
    (clients still reach the servers). Three designs: two-phase commit (vote timeout 300 ms),
    an orchestrated saga whose client waits for the outcome, and the same saga answering as
    soon as it is durably accepted. Clients time out after 1 s. Measured: the share of
    transfers invoked during the partition that succeeded (ok), against the share before it;
    after the heal, whether every accepted saga finished and the money was conserved.""",
    judge=judge_partition_availability,
    rule="""refuted when, after the heal, an accepted saga is unfinished or money is not
    conserved in some run (zero), or when the asynchronous saga succeeded no more often during
    the partition than 2PC. Holds when no 2PC transfer invoked during the partition succeeded
    (it needs both banks' votes) and both sagas, the asynchronous one and the one whose client
    waits for the end, kept at least 0.9x their own success rate from before the partition
    (the 0.1 allows requests caught in the first client timeout of a 1 s partition); nuanced
    otherwise, naming the design that lost its availability.""",
    profiles={
        "quick": {"seeds": 2, "partition": 1.0, "clients": 4},
        "full": {"seeds": 10, "partition": 2.0, "clients": 6},
    },
    references=[SAGA_REFERENCE],
)
def partition_availability(ctx: Context) -> Outcome[AvailabilityMeasurement]:
    p = ctx.params
    partition = float(p["partition"])
    start = 0.3
    base = TransferSetup(
        allowance=10**6,
        observer=False,
        orchestrator=OrchestratorConfig(max_attempts=10**6),
        coordinator=CoordinatorConfig(vote_timeout=0.3),
    )
    rows: list[tuple[Design, TransferSetup, _Availability]] = [
        ("2pc", base, _Availability("two-phase commit")),
        ("orchestration", base, _Availability("saga, client waits for the end")),
        (
            "orchestration",
            replace(base, reply_on_accept=True),
            _Availability("saga, accepted asynchronously"),
        ),
    ]
    seeds = [ctx.seed * 10_000 + i for i in range(int(p["seeds"]))]
    with ctx.progress.task("partition", len(seeds) * len(rows)) as task:
        for design, setup, row in rows:
            cut = setup.bank_addresses(design)[1]
            for seed in seeds:
                world = transfer_world(
                    seed,
                    setup,
                    design,
                    clients=int(p["clients"]),
                    ops=10**6,
                    settle=2.0,
                    client_timeout=1.0,
                    think=Uniform(0.0, 0.02),
                )
                world.nemesis.plan(FaultPlan("partition", start, partition, targets=(cut,)))
                result = world.run(max_time=start + partition + 0.4)
                _tally_availability(row, result.history, start, start + partition)
                audit = result.stats["audit"]
                row.runs += 1
                row.conserved += audit["total"] == setup.total and not audit["violations"]
                row.unfinished += audit["unfinished"]
                ends = [
                    t
                    for t, event, f in result.trace
                    if event == "note" and _SAGA_END.match(f["text"])
                ]
                if ends:
                    row.drain.append(max(0.0, max(ends) - (start + partition)))
                task.advance()
    twopc, sync, async_ = (r for _, _, r in rows)
    measured = AvailabilityMeasurement(
        runs=sum(r.runs for _, _, r in rows),
        runs_conserved=sum(r.conserved for _, _, r in rows),
        twopc=twopc.measured(),
        saga_waiting=sync.measured(),
        saga_async=async_.measured(),
        sagas_unfinished=sync.unfinished + async_.unfinished,
        drain_ms=round(max([*sync.drain, *async_.drain, 0.0]) * 1000, 1),
    )
    table = Table(
        f"Transfers during a {partition:g} s partition of one bank",
        [
            Column("design"),
            Column("invoked during"),
            Column("succeeded during"),
            Column("success before"),
            Column("median latency of successes during", "ms"),
            Column("money conserved"),
            Column("sagas finishing after the heal", "ms"),
        ],
    )
    for _, _, row in rows:
        table.add(
            row.label,
            row.during,
            f"{row.availability:.0%}",
            f"{row.baseline:.0%}",
            round(statistics.median(row.latencies) * 1000, 1) if row.latencies else None,
            f"{row.conserved}/{row.runs}",
            round(max(row.drain) * 1000, 1) if row.drain else None,
        )
    figure = Figure(
        "Success rate of transfers, before and during the partition",
        y_label="transfers that succeeded (%)",
        series=[
            Series(
                "before",
                [r.label for _, _, r in rows],
                [100 * r.baseline for _, _, r in rows],
                "bar",
            ),
            Series(
                "during",
                [r.label for _, _, r in rows],
                [100 * r.availability for _, _, r in rows],
                "bar",
            ),
        ],
    )
    return Outcome(
        measured,
        summary=(
            f"success during the partition: 2PC {twopc.availability:.0%}, saga (waiting) "
            f"{sync.availability:.0%}, saga (async) {async_.availability:.0%}"
        ),
        tables=[table],
        figures=[figure],
    )


def _tally_availability(row: _Availability, history: Sequence[Event], lo: float, hi: float) -> None:
    started: dict[int | str, float] = {}
    for event in history:
        process, kind, time = event.process, event.type, event.time or 0.0
        if kind == "invoke":
            started[process] = time
            continue
        began = started.pop(process, None)
        if began is None:
            continue
        ok = kind == "ok"
        if lo <= began < hi:
            row.during += 1
            row.during_ok += ok
            if ok:
                row.latencies.append(time - began)
        elif began < lo:
            row.before += 1
            row.before_ok += ok
