"""Codex 5.1: objects that are each linearizable do not make transactions serializable.

Key ``x`` lives on one single-node server and ``y`` on another, each atomic and immediate, so
each object is linearizable. A client's "transaction" reads ``x``, reads ``y`` and appends to
one of them, as three requests with nothing coordinating them: two concurrent ones can both
read the old values and change different keys (write skew, Elle's G2). The control runs the
very same transactions from one client at a time: with no concurrency they are serial, so the
serializability checker must pass every seed, or its findings are the grouping's or the
checker's and not the missing coordination's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archlab.lab import (
    Column,
    Context,
    Evidence,
    Judgement,
    Outcome,
    Table,
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


@dataclass(frozen=True)
class WriteSkewMeasurement:
    seeds: int
    linearizable: CheckCounts  # per object, concurrent clients
    serializable: CheckCounts  # the grouped transactions, concurrent clients
    read_committed: CheckCounts
    g2_seeds: int  # seeds with at least one write-skew (G2) cycle
    anomalies: dict[str, int]  # anomaly kind -> cycles found, over all seeds
    serial_serializable: CheckCounts  # the control: one client at a time

    @property
    def unknown(self) -> int:
        checks = (self.linearizable, self.serializable, self.serial_serializable)
        return sum(c.unknown for c in checks)


def judge_linearizable_not_serializable(m: WriteSkewMeasurement) -> Judgement:
    objects = Evidence(
        "objects: seeds not linearizable", m.linearizable.invalid, "seeds", at_most=KEPT
    )
    broken = Evidence(
        "transactions: seeds not serializable",
        m.serializable.invalid,
        "seeds",
        at_least=COUNTEREXAMPLE,
    )
    skew = Evidence("seeds with write skew (G2)", m.g2_seeds, "seeds", at_least=COUNTEREXAMPLE)
    control = Evidence(
        "one client at a time (control): seeds not serializable",
        m.serial_serializable.invalid,
        "seeds",
        at_most=CLEAN_CONTROL,
    )
    decided = Evidence(
        "checks inconclusive at their time limit", m.unknown, "checks", at_most=CONCLUSIVE
    )
    context = Evidence("transactions: seeds not read-committed", m.read_committed.invalid, "seeds")
    evidence = (objects, broken, skew, control, decided, context)
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(m.anomalies.items())) or "none"
    text = (
        f"objects not linearizable in {m.linearizable.invalid}/{m.seeds} seeds; the "
        f"transactions not serializable in {m.serializable.invalid}/{m.seeds}, with write skew "
        f"(G2) in {m.g2_seeds} (cycles by kind: {kinds}); one client at a time (control): not "
        f"serializable in {m.serial_serializable.invalid}/{m.seeds}{unknown_note(m.unknown)}"
    )
    if not broken.met and m.serializable.unknown == 0:
        return refuted(
            f"uncoordinated check-then-act stayed serializable in every seed: {text}", *evidence
        )
    if not objects.met:
        return nuanced(f"the objects themselves were not linearizable: {text}", *evidence)
    if not control.met:
        return nuanced(
            f"the serial control failed too, so the anomalies are not shown to come from the "
            f"missing coordination: {text}",
            *evidence,
        )
    if not (broken.met and decided.met):
        return nuanced(f"some checks were inconclusive: {text}", *evidence)
    if not skew.met:
        return nuanced(
            f"not serializable, but through other anomalies than write skew: {text}", *evidence
        )
    return holds(text, *evidence)


@experiment(
    id="sim.linearizable_not_serializable",
    section="5.1",
    title="Two linearizable objects, one check-then-act: write skew",
    claim="""Linearizability is a property of single objects: a transaction built from
    linearizable reads and writes on two objects, with nothing coordinating them, is not
    serializable; two such transactions can each read both objects and then change different
    ones (write skew).""",
    method="""Key x lives on one single-node server and key y on another; each operation is
    atomic and immediate, so each object is linearizable. Each client repeatedly reads x,
    reads y, then appends a unique value to one of them, as separate requests. For every
    seed the per-object history is checked for linearizability (list-append model, per
    key) and the grouped transactions for serializability (Elle's list-append analysis);
    the anomaly kinds found are counted. The control runs the same transactions from a
    single client, one at a time.""",
    judge=judge_linearizable_not_serializable,
    rule="""refuted when the concurrent transactions are serializable in every seed, every
    check decided. holds when each object is linearizable in every seed (the claim's
    premise), at least one seed is not serializable and at least one shows write skew (G2)
    (both checkers are exact: one counterexample proves "can"), the serial control (one
    client, correct by construction) is serializable in every seed, and no check stopped at
    its time limit. nuanced otherwise: the premise not met, a failed control, another anomaly
    than write skew, or inconclusive checks.""",
    profiles={
        "quick": {"seeds": 50, "ops": 150, "clients": 4},
        "full": {"seeds": 200, "ops": 450, "clients": 6},
    },
    references=[
        "Berenson et al. 1995 (A critique of ANSI SQL isolation levels) name write skew; "
        "Adya's G2 and Elle's list-append analysis (docs/references.md §5.1–5.3).",
    ],
)
def linearizable_not_serializable(ctx: Context) -> Outcome[WriteSkewMeasurement]:
    p = ctx.params
    concurrent, serial = Tally(), Tally()
    seeds = seeds_of(ctx)
    g2_seeds = 0
    with ctx.progress.task("check-then-act", 2 * len(seeds)) as task:
        for clients, tally in ((int(p["clients"]), concurrent), (1, serial)):
            for seed in seeds:
                world = make_world(
                    seed,
                    p,
                    weak.object_servers_factory(),
                    lambda servers, rng: weak.ObjectStub(servers, ("x", "y")),
                    weak.CheckThenActWorkload(),
                    2,
                    clients=clients,
                )
                history = world.run().history
                tally.seeds += 1
                txns = weak.transaction_view(history, 3)
                check_linearizable_into(tally, history)
                before = tally.anomalies["G2"]
                check_isolation_into(tally, txns, "serializable")
                check_isolation_into(tally, txns, "read-committed")
                if tally is concurrent:
                    g2_seeds += tally.anomalies["G2"] > before
                task.advance()
    measured = WriteSkewMeasurement(
        seeds=len(seeds),
        linearizable=concurrent.counts("linearizable"),
        serializable=concurrent.counts("serializable"),
        read_committed=concurrent.counts("read-committed"),
        g2_seeds=g2_seeds,
        anomalies=dict(sorted(concurrent.anomalies.items())),
        serial_serializable=serial.counts("serializable"),
    )
    rows = {
        f"x and y on two servers, {p['clients']} clients": concurrent,
        "the same, one client at a time (control)": serial,
    }
    kinds = Table(
        "Anomalies serializability forbids, over all seeds (concurrent clients)",
        [Column("anomaly"), Column("found")],
    )
    for kind, count in measured.anomalies.items():
        kinds.add(kind, count)
    checks: Sequence[str] = ("linearizable", "read-committed", "serializable")
    return Outcome(
        measured,
        summary=(
            f"objects linearizable in {concurrent.valid['linearizable']}/{len(seeds)} seeds; "
            f"transactions not serializable in {concurrent.invalid['serializable']}/"
            f"{len(seeds)}, write skew in {g2_seeds}; serial control not serializable in "
            f"{serial.invalid['serializable']}/{len(seeds)}"
        ),
        tables=[
            verdict_table("Checker verdicts per seed", rows, checks),
            kinds,
            examples_table(rows),
        ],
        figures=[verdict_figure("Per object vs per transaction", rows, checks)],
    )
