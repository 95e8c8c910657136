"""Codex 6.1 claims: sagas trade isolation for availability; two-phase commit the reverse.

Both experiments run the money-transfer domain of :mod:`archlab.txn.saga.transfer` under
three designs: an orchestrated saga, a choreographed saga, and two-phase commit over the same
three services (the control). Every number comes from the run: the services' ledgers (money
conserved, every saga all-or-nothing: :mod:`archlab.txn.saga.audit`), the observer's reads in
the history, and the clients' answers.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from archlab.check.history import Event
from archlab.lab import (
    Column,
    Context,
    Figure,
    Judgement,
    Outcome,
    RefLine,
    Series,
    Table,
    Value,
    experiment,
    holds,
    nuanced,
    number,
    refuted,
)
from archlab.sim.latency import Uniform
from archlab.sim.nemesis import FaultPlan, NemesisSpec
from archlab.txn.saga.orchestrator import OrchestratorConfig
from archlab.txn.saga.transfer import Design, TransferSetup, observed_totals, transfer_world
from archlab.txn.twopc.coordinator import CoordinatorConfig

LABEL: dict[Design, str] = {
    "orchestration": "saga, orchestrated",
    "choreography": "saga, choreographed",
    "2pc": "two-phase commit",
}
SAGA_REFERENCE = (
    "Garcia-Molina & Salem, Sagas (SIGMOD 1987): a long-lived transaction as a sequence of "
    "local transactions with compensations, giving up isolation between them."
)


def _seeds(ctx: Context) -> list[int]:
    return [ctx.seed * 10_000 + i for i in range(int(ctx.params["seeds"]))]


# -- (b) compensations restore the invariant; observers see intermediate states -------------


@dataclass
class _Tally:
    seeds: int = 0
    conserved: int = 0
    violations: int = 0
    committed: int = 0
    compensated: int = 0
    overdrawn: int = 0
    observations: int = 0
    anomalies: int = 0
    missing: int = 0
    extra: int = 0
    example: str = ""
    trace: list[tuple[float, int]] = field(default_factory=list)


def judge_saga_isolation(v: Mapping[str, Value]) -> Judgement:
    seeds = number(v, "saga_runs")
    conserved = number(v, "saga_runs_conserved")
    violations = number(v, "saga_violations")
    seen = number(v, "saga_anomalies")
    looks = number(v, "saga_observations")
    control = number(v, "twopc_anomalies")
    text = (
        f"the sagas compensated {number(v, 'sagas_compensated'):.0f} of "
        f"{number(v, 'sagas_compensated') + number(v, 'sagas_committed'):.0f} transfers; money "
        f"was conserved at the end in {conserved:.0f}/{seeds:.0f} saga runs with {violations:.0f} "
        f"all-or-nothing violations; the observer saw a total other than the invariant in "
        f"{seen:.0f}/{looks:.0f} looks at the sagas ({number(v, 'saga_anomaly_share'):.0%}) and "
        f"in {control:.0f}/{number(v, 'twopc_observations'):.0f} under two-phase commit"
    )
    if conserved < seeds or violations > 0:
        return refuted(text)
    if seen == 0 or control > 0:
        return nuanced(text)
    return holds(text)


@experiment(
    id="txn.saga_isolation",
    section="6.1",
    title="A saga's compensations restore the invariant, but not isolation",
    claim="""A saga is a sequence of local transactions; when a later step fails, compensating
    transactions undo the earlier ones in reverse order, so the invariant (here: the money in
    the banks) holds again at the end. In between, each step is visible: anyone reading the
    services sees money that has left one account and not reached the other, or that arrived
    and will be taken back. Two-phase commit shows no such state.""",
    method="""Two banks of four accounts (one closed) and a ledger capping what each account
    may send; clients transfer between the banks: debit the source, credit the destination
    (refused for a closed account), debit the sender's allowance at the ledger (refused past
    the cap: the later step that fails). One client reads every balance again and again. The
    same transfers run as an orchestrated saga, a choreographed saga (events and a
    transactional outbox) and two-phase commit (the observer's read is then a transaction),
    with 10% message loss and duplication. Per seed: the ledgers' audit (money conserved,
    every saga fully applied or fully compensated, no key applied twice) and the observer's
    totals.""",
    judge=judge_saga_isolation,
    profiles={
        "quick": {"seeds": 4, "ops": 100, "clients": 4},
        "full": {"seeds": 30, "ops": 300, "clients": 6},
    },
    references=[SAGA_REFERENCE],
)
def saga_isolation(ctx: Context) -> Outcome[dict[str, Value]]:
    p = ctx.params
    setup = TransferSetup(allowance=200)
    seeds = _seeds(ctx)
    nemesis = NemesisSpec.parse("loss,dup", loss=0.1, dup=0.1, interval=0.2, duration=0.4)
    tallies: dict[Design, _Tally] = {d: _Tally() for d in LABEL}
    with ctx.progress.task("transfers", len(seeds) * len(LABEL)) as task:
        for design, tally in tallies.items():
            for seed in seeds:
                world = transfer_world(
                    seed,
                    setup,
                    design,
                    clients=int(p["clients"]),
                    ops=int(p["ops"]),
                    nemesis=nemesis,
                )
                result = world.run()
                audit = result.stats["audit"]
                totals = observed_totals(result.history, setup)
                tally.seeds += 1
                tally.conserved += audit["total"] == setup.total
                tally.violations += len(audit["violations"])
                if audit["violations"] and not tally.example:
                    tally.example = audit["violations"][0]
                tally.committed += audit["committed"]
                tally.compensated += audit["compensated"]
                tally.overdrawn += audit["overdrawn"]
                tally.observations += len(totals)
                tally.anomalies += sum(1 for _, m in totals if m != setup.total)
                tally.missing += sum(1 for _, m in totals if m < setup.total)
                tally.extra += sum(1 for _, m in totals if m > setup.total)
                if not tally.trace:
                    tally.trace = totals
                task.advance()
    sagas = [tallies["orchestration"], tallies["choreography"]]
    control = tallies["2pc"]
    looks = sum(t.observations for t in sagas)
    seen = sum(t.anomalies for t in sagas)
    values: dict[str, Value] = {
        "saga_runs": sum(t.seeds for t in sagas),
        "saga_runs_conserved": sum(t.conserved for t in sagas),
        "saga_violations": sum(t.violations for t in sagas),
        "sagas_committed": sum(t.committed for t in sagas),
        "sagas_compensated": sum(t.compensated for t in sagas),
        "saga_observations": looks,
        "saga_anomalies": seen,
        "saga_anomaly_share": round(seen / looks, 4) if looks else 0.0,
        "compensations_overdrawing": sum(t.overdrawn for t in sagas),
        "twopc_runs_conserved": control.conserved,
        "twopc_observations": control.observations,
        "twopc_anomalies": control.anomalies,
    }
    table = Table(
        "Per design, over all seeds",
        [
            Column("design"),
            Column("runs"),
            Column("money conserved at the end"),
            Column("all-or-nothing violations"),
            Column("committed"),
            Column("compensated / aborted"),
            Column("observer's looks"),
            Column("looks ≠ invariant"),
            Column("money missing"),
            Column("money extra"),
            Column("compensations that overdrew"),
        ],
    )
    for design, t in tallies.items():
        table.add(
            LABEL[design],
            t.seeds,
            f"{t.conserved}/{t.seeds}",
            t.violations,
            t.committed,
            t.compensated,
            t.observations,
            t.anomalies,
            t.missing,
            t.extra,
            t.overdrawn,
        )
    share = Figure(
        "Observer's looks that saw a total other than the invariant",
        y_label="share of looks (%)",
        series=[
            Series(
                "intermediate states seen",
                [LABEL[d] for d in tallies],
                [100.0 * t.anomalies / max(1, t.observations) for t in tallies.values()],
                "bar",
            )
        ],
    )
    timeline = Figure(
        "Money in the banks at each of the observer's looks (first seed)",
        x_label="time (s)",
        y_label="total balance",
        series=[
            Series(LABEL[d], [x for x, _ in t.trace], [float(y) for _, y in t.trace], "scatter")
            for d, t in tallies.items()
        ],
        ref_lines=[RefLine(float(setup.total), "invariant")],
    )
    return Outcome(
        values,
        summary=(
            f"sagas: money conserved in {values['saga_runs_conserved']}/{values['saga_runs']} "
            f"runs, intermediate states in {seen}/{looks} looks; 2PC: "
            f"{control.anomalies}/{control.observations}"
        ),
        tables=[table],
        figures=[share, timeline],
    )


# -- (c) availability with one participant partitioned away ---------------------------------

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


def judge_partition_availability(v: Mapping[str, Value]) -> Judgement:
    twopc = number(v, "twopc_availability")
    sync = number(v, "saga_sync_availability")
    async_ = number(v, "saga_async_availability")
    unfinished = number(v, "sagas_unfinished")
    conserved = number(v, "runs_conserved")
    runs = number(v, "runs")
    text = (
        f"with one bank cut off, transfers succeeded {twopc:.0%} of the time under two-phase "
        f"commit, {sync:.0%} as sagas whose client waits for the end and {async_:.0%} as sagas "
        f"accepted asynchronously (baselines before the partition "
        f"{number(v, 'twopc_baseline'):.0%}, {number(v, 'saga_sync_baseline'):.0%}, "
        f"{number(v, 'saga_async_baseline'):.0%}); every accepted saga finished "
        f"{number(v, 'drain_ms'):.0f} ms after the heal at the latest; money conserved in "
        f"{conserved:.0f}/{runs:.0f} runs"
    )
    if unfinished > 0 or conserved < runs or async_ <= twopc:
        return refuted(text)
    if async_ >= 0.9 and twopc <= 0.1 and sync > twopc + 0.3:
        return holds(text)
    if sync <= twopc + 0.3:
        return nuanced(
            f"{text}; the saga's availability is its asynchronous acceptance: a client that "
            f"waits for the outcome waits out the partition"
        )
    return nuanced(text)


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
    profiles={
        "quick": {"seeds": 2, "partition": 1.0, "clients": 4},
        "full": {"seeds": 10, "partition": 2.0, "clients": 6},
    },
    references=[SAGA_REFERENCE],
)
def partition_availability(ctx: Context) -> Outcome[dict[str, Value]]:
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
    seeds = _seeds(ctx)
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
    values: dict[str, Value] = {
        "runs": sum(r.runs for _, _, r in rows),
        "runs_conserved": sum(r.conserved for _, _, r in rows),
        "twopc_availability": round(twopc.availability, 4),
        "saga_sync_availability": round(sync.availability, 4),
        "saga_async_availability": round(async_.availability, 4),
        "twopc_baseline": round(twopc.baseline, 4),
        "saga_sync_baseline": round(sync.baseline, 4),
        "saga_async_baseline": round(async_.baseline, 4),
        "sagas_unfinished": sync.unfinished + async_.unfinished,
        "drain_ms": round(max([*sync.drain, *async_.drain, 0.0]) * 1000, 1),
    }
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
        values,
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
