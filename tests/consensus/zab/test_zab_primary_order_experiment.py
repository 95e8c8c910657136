"""Zab's primary-order experiment: the workload, one run each way, and the judge both ways."""

from __future__ import annotations

import random

from archlab.consensus.zab.experiments import (
    PrimaryOrderMeasurement,
    VariantRuns,
    judge_primary_order,
    variant_runs,
)
from archlab.consensus.zab.primary_order import ChainWorkload, run_once


def test_each_client_walks_its_own_chain_of_dependent_writes() -> None:
    workload = ChainWorkload(clients=2)
    rng = random.Random(1)
    ops = [workload.next_op(rng, 0) for _ in range(6)]
    writes = [(op.f, op.key, op.value) for op in ops if op.f != "read"]
    assert writes == [
        ("write", "chain0", 0),
        ("cas", "chain0", (0, 1)),
        ("cas", "chain0", (1, 2)),
        ("cas", "chain0", (2, 3)),
    ]
    assert [op.f for op in ops].count("read") == 2


def test_zab_keeps_primary_order_where_zab_without_synchronization_breaks_it() -> None:
    correct = run_once(1, flawed=False)
    broken = run_once(1, flawed=True)
    assert correct.crashes > 3 and broken.crashes > 3
    assert not correct.order_violated and not correct.diverged
    assert correct.linearizable is True
    assert broken.order_violated and broken.first


def counts(violating: int, runs: int = 12) -> VariantRuns:
    return VariantRuns(runs, 150, 1500, violating, violating, 0, violating, violating, 0, 0)


def test_the_judge_holds_when_only_the_variant_breaks_primary_order() -> None:
    judgement = judge_primary_order(PrimaryOrderMeasurement(counts(0), counts(12)))
    assert judgement.verdict == "holds"
    assert all(e.met for e in judgement.evidence)


def test_the_judge_refutes_zab_without_synchronization_measured_as_zab() -> None:
    # A real measurement: the broken variant's run, judged as though it were Zab.
    broken = variant_runs([run_once(1, flawed=True)])
    judgement = judge_primary_order(PrimaryOrderMeasurement(broken, broken))
    assert judgement.verdict == "refuted" and "Zab itself" in judgement.reason
    assert any(e.met is False for e in judgement.evidence)


def test_the_judge_refutes_when_zab_itself_breaks_it() -> None:
    judgement = judge_primary_order(PrimaryOrderMeasurement(counts(1), counts(7)))
    assert judgement.verdict == "refuted"


def test_the_judge_is_nuanced_when_the_faults_do_not_tell_them_apart() -> None:
    judgement = judge_primary_order(PrimaryOrderMeasurement(counts(0), counts(0)))
    assert judgement.verdict == "nuanced" and "did not exercise" in judgement.reason
