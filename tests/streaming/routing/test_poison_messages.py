"""Poison messages on a work queue: the measurement on the real broker core, and the judge
reaching each verdict (refuted from a real run of a dead-letter path that is not there)."""

from __future__ import annotations

from dataclasses import replace
from random import Random

from archlab.streaming.routing.measure_poison import (
    PoisonMeasurement,
    judge_poison,
    run_policy,
)


def measured(seed: int = 1, **changes: object) -> PoisonMeasurement:
    runs = {
        policy: run_policy(policy, good=200, poison=4, budget=2040, attempts=3, rng=Random(seed))
        for policy in ("requeue", "drop", "dead-letter")
    }
    m = PoisonMeasurement(200, 4, 2040, 3, runs["requeue"], runs["drop"], runs["dead-letter"])
    return replace(m, **changes)  # type: ignore[arg-type]


def test_requeued_poison_stalls_the_queue_and_dropped_poison_is_lost() -> None:
    m = measured()
    assert m.requeue.good_processed < 200 and m.requeue.poison_deliveries > 1000
    assert m.drop.good_processed == 200 and m.drop.poison_lost == 4
    assert m.dead_letter.good_processed == 200 and m.dead_letter.poison_kept == 4
    assert m.dead_letter.poison_deliveries == 4 * 3
    assert judge_poison(m).verdict == "holds"


def test_a_dead_letter_policy_on_a_queue_without_one_is_refuted() -> None:
    """The consumer gives up after its attempts, but the queue names no dead-letter exchange:
    measured with the 'drop' path standing in for the dead-letter one."""
    m = measured()
    broken = replace(m, dead_letter=m.drop)
    judgement = judge_poison(broken)
    assert judgement.verdict == "refuted"
    assert "did not do its job" in judgement.reason


def test_requeue_that_does_not_stall_is_nuanced() -> None:
    m = measured()
    flowing = replace(m, requeue=replace(m.requeue, good_processed=190))
    assert judge_poison(flowing).verdict == "nuanced"
