"""Codex 5.1 claims: linearizability, serializability and strict serializability are different.

Each experiment runs a real, deliberately weak store (:mod:`archlab.sim.weakstores`) in the
simulator over many seeds and hands every history to the checkers: linearizability
(:func:`~archlab.check.linearizability.check_linearizable`, per key) and transactional
isolation (:func:`~archlab.check.isolation.check_isolation`, Elle's list-append analysis).
The verdicts are counts of the checkers' answers, never labels written by hand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from archlab.check.anomalies import Consistency
from archlab.check.history import Event
from archlab.check.isolation import check_isolation
from archlab.check.linearizability import check_linearizable
from archlab.lab import (
    Column,
    Context,
    Figure,
    Judgement,
    Outcome,
    Series,
    Table,
    Value,
    experiment,
    holds,
    nuanced,
    number,
    optional_number,
    refuted,
)
from archlab.sim import weakstores as weak
from archlab.sim.latency import Uniform
from archlab.sim.network import LinkConfig
from archlab.sim.workload import ListAppendWorkload
from archlab.sim.world import World

CHECK_TIME_LIMIT = 10.0
KEYS = ("x", "y", "z")


@dataclass
class Tally:
    """How many seeds each checker judged valid, invalid or unknown."""

    seeds: int = 0
    valid: Counter[str] = field(default_factory=Counter)
    invalid: Counter[str] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)
    anomalies: Counter[str] = field(default_factory=Counter)
    example: dict[str, str] = field(default_factory=dict)

    def add(self, check: str, valid: object, explanation: str = "") -> None:
        if valid is True:
            self.valid[check] += 1
        elif valid is False:
            self.invalid[check] += 1
            if explanation and check not in self.example:
                self.example[check] = explanation
        else:
            self.unknown[check] += 1


def _seeds(ctx: Context) -> list[int]:
    return [ctx.seed * 10_000 + i for i in range(int(ctx.params["seeds"]))]


def _linearizable(tally: Tally, history: Sequence[Event]) -> None:
    result = check_linearizable(history, model=weak.LIST_APPEND, time_limit=CHECK_TIME_LIMIT)
    explanation = result.explain(result.failures[0]) if result.failures else ""
    tally.add("linearizable", result.valid, explanation)


def _isolation(tally: Tally, history: Sequence[Event], consistency: Consistency) -> None:
    result = check_isolation(history, workload="list-append", consistency=consistency)
    forbidden = result.forbidden
    tally.add(consistency, result.valid, forbidden[0].explanation if forbidden else "")
    if consistency == "serializable":
        tally.anomalies.update(a.kind for a in forbidden)


def _world(
    seed: int,
    params: Mapping[str, Any],
    factory: Any,
    stubs: Any,
    workload: Any,
    nodes: int,
) -> World:
    return World(
        seed=seed,
        node_factory=factory,
        stub_factory=stubs,
        workload=workload,
        nodes=nodes,
        clients=int(params["clients"]),
        ops=int(params["ops"]),
        link=LinkConfig(latency=Uniform(0.001, 0.005)),
        think=Uniform(0.0, 0.01),
    )


def _verdict_table(title: str, rows: Mapping[str, Tally], checks: Sequence[str]) -> Table:
    table = Table(
        title,
        [
            Column("system"),
            Column("seeds"),
            *(Column(f"{c}: valid / invalid / unknown") for c in checks),
        ],
    )
    for system, tally in rows.items():
        cells: list[Value] = [system, tally.seeds]
        for check in checks:
            cells.append(f"{tally.valid[check]} / {tally.invalid[check]} / {tally.unknown[check]}")
        table.add(*cells)
    return table


def _verdict_figure(title: str, rows: Mapping[str, Tally], checks: Sequence[str]) -> Figure:
    labels = list(rows)
    return Figure(
        title,
        y_label="seeds judged valid (%)",
        series=[
            Series(
                check,
                labels,
                [100.0 * rows[s].valid[check] / max(1, rows[s].seeds) for s in labels],
                style="bar",
            )
            for check in checks
        ],
        caption="Each bar: the share of seeds whose history the checker found valid.",
    )


def _examples(rows: Mapping[str, Tally]) -> Table:
    table = Table(
        "One counterexample per checker (first failing seed)",
        [Column("system"), Column("checker"), Column("why")],
    )
    for system, tally in rows.items():
        for check, text in tally.example.items():
            table.add(system, check, text)
    return table


# -- 1. serializable, not linearizable -------------------------------------------------------


def _unknown(v: Mapping[str, Value]) -> str:
    unknown = number(v, "unknown_checks")
    return f" ({unknown:.0f} checks inconclusive at their time limit)" if unknown else ""


def judge_serializable_not_linearizable(v: Mapping[str, Value]) -> Judgement:
    seeds = number(v, "seeds")
    not_ser = number(v, "replica_not_serializable")
    not_lin = number(v, "replica_not_linearizable")
    control = number(v, "primary_not_linearizable")
    text = (
        f"reads from a lagging replica: not serializable in {not_ser:.0f}/{seeds:.0f} seeds, "
        f"not linearizable in {not_lin:.0f}/{seeds:.0f}; reads from the primary: not "
        f"linearizable in {control:.0f}/{seeds:.0f}{_unknown(v)}"
    )
    if not_ser > 0 or not_lin == 0:
        return refuted(text)
    if not_lin >= seeds / 2 and control == 0:
        return holds(text)
    return nuanced(text)


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
    profiles={
        "quick": {"seeds": 50, "ops": 100, "clients": 4, "lag": 0.05},
        "full": {"seeds": 200, "ops": 300, "clients": 6, "lag": 0.05},
    },
    references=["Herlihy & Wing 1990 define linearizability; Papadimitriou 1979 serializability."],
)
def serializable_not_linearizable(ctx: Context) -> Outcome[dict[str, Value]]:
    p = ctx.params
    systems: dict[str, Callable[[int], World]] = {
        "reads at the primary": lambda seed: _world(
            seed,
            p,
            weak.lagging_replica_factory(float(p["lag"])),
            weak.primary_stubs(),
            weak.SingleKeyWorkload(),
            3,
        ),
        f"reads at a replica ({float(p['lag']) * 1000:g} ms lag)": lambda seed: _world(
            seed,
            p,
            weak.lagging_replica_factory(float(p["lag"])),
            weak.replica_stubs(),
            weak.SingleKeyWorkload(),
            3,
        ),
    }
    checks = ("linearizable", "serializable", "strict-serializable")
    rows = {name: Tally() for name in systems}
    seeds = _seeds(ctx)
    with ctx.progress.task("lagging replica", len(seeds) * len(systems)) as task:
        for name, build in systems.items():
            tally = rows[name]
            for seed in seeds:
                history = build(seed).run().history
                tally.seeds += 1
                _linearizable(tally, weak.object_view(history))
                _isolation(tally, history, "serializable")
                _isolation(tally, history, "strict-serializable")
                task.advance()
    primary, replica = rows.values()
    values: dict[str, Value] = {
        "seeds": len(seeds),
        "replica_not_linearizable": replica.invalid["linearizable"],
        "replica_not_serializable": replica.invalid["serializable"],
        "replica_not_strict_serializable": replica.invalid["strict-serializable"],
        "primary_not_linearizable": primary.invalid["linearizable"],
        "primary_not_serializable": primary.invalid["serializable"],
        "unknown_checks": sum(sum(t.unknown.values()) for t in rows.values()),
    }
    return Outcome(
        values,
        summary=(
            f"replica reads: {replica.valid['serializable']}/{len(seeds)} seeds serializable, "
            f"{replica.invalid['linearizable']}/{len(seeds)} not linearizable"
        ),
        tables=[_verdict_table("Checker verdicts per seed", rows, checks), _examples(rows)],
        figures=[_verdict_figure("Which guarantee each store kept", rows, checks)],
    )


# -- 2. linearizable per object, not serializable ------------------------------------------


def judge_linearizable_not_serializable(v: Mapping[str, Value]) -> Judgement:
    seeds = number(v, "seeds")
    not_lin = number(v, "not_linearizable")
    not_ser = number(v, "not_serializable")
    skew = number(v, "g2_seeds")
    text = (
        f"objects not linearizable in {not_lin:.0f}/{seeds:.0f} seeds; the transactions not "
        f"serializable in {not_ser:.0f}/{seeds:.0f}, with write skew (G2) in {skew:.0f}"
        f"{_unknown(v)}"
    )
    if not_lin > 0 or not_ser == 0:
        return refuted(text)
    if not_ser >= seeds / 2 and skew > 0:
        return holds(text)
    return nuanced(text)


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
    the anomaly kinds found are counted.""",
    judge=judge_linearizable_not_serializable,
    profiles={
        "quick": {"seeds": 50, "ops": 150, "clients": 4},
        "full": {"seeds": 200, "ops": 450, "clients": 6},
    },
    references=["Berenson et al. 1995 (A critique of ANSI SQL isolation levels) name write skew."],
)
def linearizable_not_serializable(ctx: Context) -> Outcome[dict[str, Value]]:
    p = ctx.params
    tally = Tally()
    seeds = _seeds(ctx)
    g2_seeds = 0
    with ctx.progress.task("check-then-act", len(seeds)) as task:
        for seed in seeds:
            world = _world(
                seed,
                p,
                weak.object_servers_factory(),
                lambda servers, rng: weak.ObjectStub(servers, ("x", "y")),
                weak.CheckThenActWorkload(),
                2,
            )
            history = world.run().history
            tally.seeds += 1
            _linearizable(tally, history)
            txns = weak.transaction_view(history, 3)
            before = tally.anomalies["G2"]
            _isolation(tally, txns, "serializable")
            _isolation(tally, txns, "read-committed")
            g2_seeds += tally.anomalies["G2"] > before
            task.advance()
    rows = {"x and y on two servers": tally}
    kinds = Table(
        "Anomalies serializability forbids, over all seeds",
        [Column("anomaly"), Column("found")],
    )
    for kind, count in sorted(tally.anomalies.items()):
        kinds.add(kind, count)
    values: dict[str, Value] = {
        "seeds": len(seeds),
        "not_linearizable": tally.invalid["linearizable"],
        "not_serializable": tally.invalid["serializable"],
        "not_read_committed": tally.invalid["read-committed"],
        "g2_seeds": g2_seeds,
        "unknown_checks": sum(tally.unknown.values()),
    }
    checks = ("linearizable", "read-committed", "serializable")
    return Outcome(
        values,
        summary=(
            f"objects linearizable in {tally.valid['linearizable']}/{len(seeds)} seeds; "
            f"transactions not serializable in {tally.invalid['serializable']}/{len(seeds)}, "
            f"write skew in {g2_seeds}"
        ),
        tables=[_verdict_table("Checker verdicts per seed", rows, checks), kinds, _examples(rows)],
        figures=[_verdict_figure("Per object vs per transaction", rows, checks)],
    )


# -- 3. serializable, not strictly serializable --------------------------------------------


def judge_serializable_not_strict(v: Mapping[str, Value]) -> Judgement:
    seeds = number(v, "seeds")
    not_ser = number(v, "not_serializable")
    skewed = number(v, "skewed_not_strict")
    synced = number(v, "synced_not_strict")
    skew = number(v, "skew_ms")
    smallest = optional_number(v, "smallest_violating_skew_ms")
    threshold = (
        f"; the smallest skew tried that showed it: {smallest:g} ms" if smallest is not None else ""
    )
    text = (
        f"not serializable in {not_ser:.0f} seed-runs at any skew; with a gateway clock "
        f"{skew:g} ms behind, not strictly serializable in {skewed:.0f}/{seeds:.0f} seeds; "
        f"with it {number(v, 'synced_skew_ms'):g} ms behind in {synced:.0f}/{seeds:.0f}"
        f"{threshold}{_unknown(v)}"
    )
    if not_ser > 0 or skewed == 0:
        return refuted(text)
    if skewed >= seeds / 2 and synced == 0:
        return holds(text)
    return nuanced(text)


@experiment(
    id="sim.serializable_not_strict",
    section="5.1",
    title="Timestamps from skewed clocks: serializable, not strictly serializable",
    claim="""Strict serializability adds real time to serializability: a transaction that
    starts after another finished must be ordered after it. A store that orders transactions
    by timestamps from clocks that disagree stays serializable but can order a later
    transaction first, which is why Spanner waits out its clock uncertainty (5.2).""",
    method="""Two gateways stamp each transaction with their local clock; one storage node
    runs multiversion timestamp ordering (reads see versions older than the stamp; an
    append a later reader missed aborts). Each client always uses the same gateway; the
    second gateway's clock is set behind true time by each skew of the profile (0 is the
    control). List-append transactions of one to three operations on three keys; for every
    seed the history is checked for serializability and strict serializability (Elle's
    list-append analysis, with real-time order for the strict check).""",
    judge=judge_serializable_not_strict,
    profiles={
        "quick": {"seeds": 25, "ops": 120, "clients": 4, "skews_ms": [0.0, 50.0]},
        "full": {"seeds": 100, "ops": 400, "clients": 6, "skews_ms": [0.0, 1.0, 5.0, 20.0, 50.0]},
    },
    references=[
        "Spanner (OSDI 2012): commit wait makes a commit visible only after TT.after(s), "
        "with ε ~1-7 ms (REFERENCES.md, consistency)."
    ],
)
def serializable_not_strict(ctx: Context) -> Outcome[dict[str, Value]]:
    p = ctx.params
    skews = [float(s) for s in p["skews_ms"]]
    seeds = _seeds(ctx)
    rows: dict[str, Tally] = {}
    aborted: dict[str, int] = {}
    with ctx.progress.task("timestamp ordering", len(seeds) * len(skews)) as task:
        for skew in skews:
            name = f"gateway clock {skew:g} ms behind"
            tally = rows[name] = Tally()
            aborted[name] = 0
            for seed in seeds:
                world = _world(
                    seed,
                    p,
                    weak.timestamp_store_factory(),
                    weak.gateway_stubs(),
                    ListAppendWorkload(keys=("x", "y", "z")),
                    3,
                )
                world.hosts["n2"].clock.step(-skew / 1000)
                result = world.run()
                aborted[name] += result.stats["ops"]["fail"]
                tally.seeds += 1
                _isolation(tally, result.history, "serializable")
                _isolation(tally, result.history, "strict-serializable")
                task.advance()
    tallies = list(rows.values())
    synced, skewed = tallies[0], tallies[-1]
    violating = [s for s, t in zip(skews, tallies, strict=True) if t.invalid["strict-serializable"]]
    values: dict[str, Value] = {
        "seeds": len(seeds),
        "skew_ms": skews[-1],
        "not_serializable": sum(t.invalid["serializable"] for t in tallies),
        "skewed_not_strict": skewed.invalid["strict-serializable"],
        "synced_skew_ms": skews[0],
        "synced_not_strict": synced.invalid["strict-serializable"],
        "smallest_violating_skew_ms": min(violating) if violating else None,
        "unknown_checks": sum(sum(t.unknown.values()) for t in tallies),
    }
    checks = ("serializable", "strict-serializable")
    table = _verdict_table("Checker verdicts per seed, by clock skew", rows, checks)
    aborts = Table(
        "Transactions aborted by timestamp ordering",
        [Column("system"), Column("aborted"), Column("of")],
    )
    for name in rows:
        aborts.add(name, aborted[name], len(seeds) * int(p["ops"]))
    return Outcome(
        values,
        summary=(
            f"{skews[-1]:g} ms skew: {skewed.valid['serializable']}/{len(seeds)} serializable, "
            f"{skewed.invalid['strict-serializable']}/{len(seeds)} not strictly serializable"
        ),
        tables=[table, aborts, _examples(rows)],
        figures=[_verdict_figure("Serializable vs strictly serializable", rows, checks)],
    )
