"""Shared machinery of the codex 5.1 experiments: run a weak store over seeds, count verdicts.

Each experiment (:mod:`archlab.sim.measure_lagging_replica`,
:mod:`archlab.sim.measure_write_skew`, :mod:`archlab.sim.measure_skewed_clocks`) runs a real,
deliberately weak store (:mod:`archlab.sim.weakstores`) in the simulator over many seeds and
hands every history to the checkers: linearizability
(:func:`~archlab.check.linearizability.check_linearizable`, per key) and transactional
isolation (:func:`~archlab.check.isolation.check_isolation`, Elle's list-append analysis). A
:class:`Tally` counts their answers per seed; :class:`CheckCounts` is what a measurement keeps.

The thresholds every one of these rules uses are here, with their sources: both checkers are
exact (a reported violation is a proof, a clean answer covers every order), so one
counterexample proves that a guarantee *can* fail, one violation refutes that it is always
kept, and a control that is correct by construction must pass on every seed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from archlab.check.anomalies import Consistency
from archlab.check.history import Event
from archlab.check.isolation import check_isolation
from archlab.check.linearizability import check_linearizable
from archlab.lab import Column, Context, Figure, Series, Table, Threshold, Value
from archlab.sim import weakstores as weak
from archlab.sim.latency import Uniform
from archlab.sim.network import LinkConfig
from archlab.sim.world import World

CHECK_TIME_LIMIT = 10.0

#: "Can fail": the linearizability search tries every order (Wing & Gong with Lowe's
#: memoisation) and Elle reports only cycles that exist, so one counterexample is a proof
#: (docs/references.md §5.1–5.3).
COUNTEREXAMPLE = Threshold(1, "seeds", "an exact checker's counterexample proves 'can fail'")
#: "Is kept": a guarantee the claim says the store keeps must hold on every seed.
KEPT = Threshold(0, "seeds", "the claim keeps it on every seed: one proven violation refutes")
#: A control that is correct by construction must pass on every seed; one failure means the
#: checker or the store, not the property under test, made the anomalies.
CLEAN_CONTROL = Threshold(0, "seeds", "control correct by construction: one failure voids it")
#: A check stopped at its time limit proves nothing either way.
CONCLUSIVE = Threshold(0, "checks", "a check stopped at its time limit proves nothing")


@dataclass(frozen=True)
class CheckCounts:
    """How many seeds one checker judged valid, invalid, or could not decide in time."""

    valid: int
    invalid: int
    unknown: int


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

    def counts(self, check: str) -> CheckCounts:
        return CheckCounts(self.valid[check], self.invalid[check], self.unknown[check])


def seeds_of(ctx: Context) -> list[int]:
    return [ctx.seed * 10_000 + i for i in range(int(ctx.params["seeds"]))]


def check_linearizable_into(tally: Tally, history: Sequence[Event]) -> None:
    result = check_linearizable(history, model=weak.LIST_APPEND, time_limit=CHECK_TIME_LIMIT)
    explanation = result.explain(result.failures[0]) if result.failures else ""
    tally.add("linearizable", result.valid, explanation)


def check_isolation_into(tally: Tally, history: Sequence[Event], consistency: Consistency) -> None:
    result = check_isolation(history, workload="list-append", consistency=consistency)
    forbidden = result.forbidden
    tally.add(consistency, result.valid, forbidden[0].explanation if forbidden else "")
    if consistency == "serializable":
        tally.anomalies.update(a.kind for a in forbidden)


def make_world(
    seed: int,
    params: Mapping[str, Any],
    factory: Any,
    stubs: Any,
    workload: Any,
    nodes: int,
    clients: int | None = None,
) -> World:
    return World(
        seed=seed,
        node_factory=factory,
        stub_factory=stubs,
        workload=workload,
        nodes=nodes,
        clients=int(params["clients"]) if clients is None else clients,
        ops=int(params["ops"]),
        link=LinkConfig(latency=Uniform(0.001, 0.005)),
        think=Uniform(0.0, 0.01),
    )


def unknown_note(unknown: int) -> str:
    return f" ({unknown} checks inconclusive at their time limit)" if unknown else ""


def verdict_table(title: str, rows: Mapping[str, Tally], checks: Sequence[str]) -> Table:
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


def verdict_figure(title: str, rows: Mapping[str, Tally], checks: Sequence[str]) -> Figure:
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


def examples_table(rows: Mapping[str, Tally]) -> Table:
    table = Table(
        "One counterexample per checker (first failing seed)",
        [Column("system"), Column("checker"), Column("why")],
    )
    for system, tally in rows.items():
        for check, text in tally.example.items():
            table.add(system, check, text)
    return table
