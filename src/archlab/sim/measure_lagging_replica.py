"""Codex 5.1: a lagging read replica is serializable but not linearizable.

Serializability asks for some serial order; linearizability also asks that order to respect
real time. A primary that ships its log to read replicas every ``lag`` seconds keeps the first
(every replica read sees a prefix of the primary's order) and loses the second (a read that
starts after an append finished can miss it). The same store with reads sent to the primary is
the control: it must pass both checks on every seed, or the anomalies are not the lag's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from archlab.lab import (
    Context,
    Evidence,
    Judgement,
    Outcome,
    experiment,
    holds,
    nuanced,
    refuted,
)
from archlab.sim import weakstores as weak
from archlab.sim.checked_runs import (
    CLEAN_CONTROL,
    CONCLUSIVE,
    COUNTEREXAMPLE,
    KEPT,
    CheckCounts,
    Tally,
    check_isolation_into,
    check_linearizable_into,
    examples_table,
    make_world,
    seeds_of,
    unknown_note,
    verdict_figure,
    verdict_table,
)
from archlab.sim.world import World


@dataclass(frozen=True)
class StoreChecks:
    """One way of reading the store, as the three checkers judged its seeds."""

    linearizable: CheckCounts
    serializable: CheckCounts
    strict_serializable: CheckCounts


@dataclass(frozen=True)
class LaggingReplicaMeasurement:
    seeds: int
    lag_ms: float
    replica: StoreChecks  # reads at a lagging replica
    primary: StoreChecks  # reads at the primary: the control

    @property
    def unknown(self) -> int:
        return sum(
            c.unknown
            for s in (self.replica, self.primary)
            for c in (s.linearizable, s.serializable, s.strict_serializable)
        )


def judge_serializable_not_linearizable(m: LaggingReplicaMeasurement) -> Judgement:
    r, p = m.replica, m.primary
    serializable = Evidence(
        "replica reads: seeds not serializable", r.serializable.invalid, "seeds", at_most=KEPT
    )
    stale = Evidence(
        "replica reads: seeds not linearizable",
        r.linearizable.invalid,
        "seeds",
        at_least=COUNTEREXAMPLE,
    )
    control_lin = Evidence(
        "primary reads (control): seeds not linearizable",
        p.linearizable.invalid,
        "seeds",
        at_most=CLEAN_CONTROL,
    )
    control_ser = Evidence(
        "primary reads (control): seeds not serializable",
        p.serializable.invalid,
        "seeds",
        at_most=CLEAN_CONTROL,
    )
    decided = Evidence(
        "checks inconclusive at their time limit", m.unknown, "checks", at_most=CONCLUSIVE
    )
    evidence = (serializable, stale, control_lin, control_ser, decided)
    text = (
        f"reads from a replica {m.lag_ms:g} ms behind: not serializable in "
        f"{r.serializable.invalid}/{m.seeds} seeds, not linearizable in "
        f"{r.linearizable.invalid}/{m.seeds}; reads from the primary (control): not "
        f"linearizable in {p.linearizable.invalid}/{m.seeds}, not serializable in "
        f"{p.serializable.invalid}/{m.seeds}{unknown_note(m.unknown)}"
    )
    if not serializable.met:
        return refuted(f"the lagging store was not serializable: {text}", *evidence)
    if not stale.met and r.linearizable.unknown == 0:
        return refuted(f"no replica read was ever caught stale: {text}", *evidence)
    if not (control_lin.met and control_ser.met):
        return nuanced(
            f"the control failed too, so the lag is not shown to be the cause: {text}", *evidence
        )
    if not (stale.met and decided.met):
        return nuanced(f"some checks were inconclusive: {text}", *evidence)
    return holds(text, *evidence)


@experiment(
    id="sim.serializable_not_linearizable",
    section="5.1",
    title="A lagging read replica: serializable, not linearizable",
    claim="""Serializability promises an equivalent serial order but says nothing about real
    time, so a store whose reads lag behind its writes can be serializable while failing
    linearizability, which requires every read to see every write that finished before it
    began.""",
    method="""A primary applies single-operation transactions (appends of unique values to
    one of three lists, reads of a whole list) and ships its log to two read replicas every `lag`
    seconds; each client appends at the primary and reads at its own replica. The same store
    with reads sent to the primary is the control. For every seed the history is checked
    per key for linearizability (list-append model) and, as one-operation transactions, for
    serializability and strict serializability (Elle's list-append analysis).""",
    judge=judge_serializable_not_linearizable,
    rule="""refuted when the replica-read store is not serializable in any seed (the claim
    says it is kept: one proven violation refutes), or when no seed's replica reads are
    found not linearizable with every check decided. holds when at least one seed is not
    linearizable (both checkers are exact, so one counterexample proves "can fail"), the
    control (reads at the primary, correct by construction) is linearizable and serializable
    in every seed, and no check stopped at its time limit. nuanced otherwise: a failed
    control means the lag is not shown to be the cause; an inconclusive check proves
    nothing.""",
    profiles={
        "quick": {"seeds": 50, "ops": 100, "clients": 4, "lag": 0.05},
        "full": {"seeds": 200, "ops": 300, "clients": 6, "lag": 0.05},
    },
    references=[
        "Herlihy & Wing 1990 define linearizability; Papadimitriou 1979 serializability "
        "(docs/references.md §5.1–5.3).",
    ],
)
def serializable_not_linearizable(ctx: Context) -> Outcome[LaggingReplicaMeasurement]:
    p = ctx.params
    lag = float(p["lag"])

    def store(stubs: object) -> Callable[[int], World]:
        return lambda seed: make_world(
            seed, p, weak.lagging_replica_factory(lag), stubs, weak.SingleKeyWorkload(), 3
        )

    systems = {
        "reads at the primary": store(weak.primary_stubs()),
        f"reads at a replica ({lag * 1000:g} ms lag)": store(weak.replica_stubs()),
    }
    checks = ("linearizable", "serializable", "strict-serializable")
    rows = {name: Tally() for name in systems}
    seeds = seeds_of(ctx)
    with ctx.progress.task("lagging replica", len(seeds) * len(systems)) as task:
        for name, build in systems.items():
            tally = rows[name]
            for seed in seeds:
                history = build(seed).run().history
                tally.seeds += 1
                check_linearizable_into(tally, weak.object_view(history))
                check_isolation_into(tally, history, "serializable")
                check_isolation_into(tally, history, "strict-serializable")
                task.advance()
    primary, replica = rows.values()

    def checked(t: Tally) -> StoreChecks:
        return StoreChecks(
            t.counts("linearizable"), t.counts("serializable"), t.counts("strict-serializable")
        )

    measured = LaggingReplicaMeasurement(
        seeds=len(seeds), lag_ms=lag * 1000, replica=checked(replica), primary=checked(primary)
    )
    return Outcome(
        measured,
        summary=(
            f"replica reads: {replica.valid['serializable']}/{len(seeds)} seeds serializable, "
            f"{replica.invalid['linearizable']}/{len(seeds)} not linearizable; control "
            f"{primary.invalid['linearizable']}/{len(seeds)} not linearizable"
        ),
        tables=[verdict_table("Checker verdicts per seed", rows, checks), examples_table(rows)],
        figures=[verdict_figure("Which guarantee each store kept", rows, checks)],
    )
