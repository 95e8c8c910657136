"""Zab's primary-order experiment: the workload, one run each way, and the judge both ways."""

from __future__ import annotations

import random

from archlab.consensus.zab.experiments import judge_primary_order
from archlab.consensus.zab.primary_order import ChainWorkload, run_once
from archlab.lab import Value


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


def values(correct: int, broken: int) -> dict[str, Value]:
    found: dict[str, Value] = {"seeds": 10, "zab_crashes": 100}
    for prefix, count in (("zab", correct), ("nosync", broken)):
        found[f"{prefix}_order_runs"] = count
        found[f"{prefix}_diverged_runs"] = count
        found[f"{prefix}_not_linearizable_runs"] = 0
    return found


def test_the_judge_holds_when_only_the_variant_breaks_primary_order() -> None:
    assert judge_primary_order(values(0, 7)).verdict == "holds"


def test_the_judge_refutes_when_zab_itself_breaks_it() -> None:
    judgement = judge_primary_order(values(1, 7))
    assert judgement.verdict == "refuted" and "Zab itself" in judgement.reason


def test_the_judge_is_nuanced_when_the_faults_do_not_tell_them_apart() -> None:
    assert judge_primary_order(values(0, 0)).verdict == "nuanced"
