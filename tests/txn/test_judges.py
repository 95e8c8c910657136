"""Every txn judge gives each verdict it can give: from the quick profiles' measurements, from
plausible variations of them, and refuted from real runs of the deliberately broken variants."""

from __future__ import annotations

from dataclasses import replace

import pytest

from archlab.lab import Judgement
from archlab.txn.commit_wait_latency import (
    CommitWaitMeasurement,
    UncertaintyLevel,
    judge_commit_wait_latency,
    measure_level,
)
from archlab.txn.external_consistency import (
    CheckedRow,
    ExternalConsistencyMeasurement,
    judge_external_consistency,
    measure_seed,
    summarize,
)
from archlab.txn.saga import isolation
from archlab.txn.saga.availability import (
    AvailabilityMeasurement,
    DesignAvailability,
    judge_partition_availability,
)
from archlab.txn.saga.isolation import SagaIsolationMeasurement, judge_saga_isolation
from archlab.txn.saga.transfer import TransferSetup
from archlab.txn.spanner import SpannerSetup
from archlab.txn.twopc.blocking import run_blocking
from archlab.txn.twopc.experiments import (
    BlockingMeasurement,
    judge_blocking,
    summarize as summarize_blocking,
)


def _cites_its_thresholds(judgement: Judgement) -> None:
    assert judgement.evidence, "every verdict cites the numbers it compared"
    assert all(e.threshold.source for e in judgement.evidence if e.threshold is not None)


# -- txn.external_consistency ------------------------------------------------------------------

#: The quick profile at seed 0.
EXTERNAL = ExternalConsistencyMeasurement(
    seeds_per_row=6,
    epsilons=3,
    runs_per_mode=18,
    violating_seeds_without_wait=10,
    violating_seeds_with_wait=0,
    realtime_anomalies_without_wait=40,
    realtime_anomalies_with_wait=0,
    not_serializable_runs=0,
    tt_samples_within_bound=5661,
    tt_misses_within_bound=0,
    violating_seeds_rogue_clock=6,
    tt_misses_rogue_clock=522,
    tt_worst_miss_rogue_ms=3.0,
    unknown_checks=0,
)


def test_external_consistency_judge() -> None:
    judgement = judge_external_consistency(EXTERNAL)
    assert judgement.verdict == "holds"
    _cites_its_thresholds(judgement)
    missed = replace(EXTERNAL, tt_misses_within_bound=2)
    assert judge_external_consistency(missed).verdict == "refuted"
    calm = replace(EXTERNAL, violating_seeds_without_wait=0)
    assert judge_external_consistency(calm).verdict == "nuanced"


def test_a_store_without_commit_wait_refutes_external_consistency() -> None:
    # Real runs: the "with commit wait" rows measured on a store whose commit wait is off.
    rows = []
    for _ in range(2):
        row = CheckedRow("commit wait off")
        setup = SpannerSetup(commit_wait=False, drift_bound=0.05, max_drift=0.05)
        for seed in range(3):
            measure_seed(row, setup, seed, clients=6, ops=120)
        rows.append(row)
    measured = summarize([rows[0]], [rows[1]], rows[1])
    assert measured.violating_seeds_with_wait > 0
    judgement = judge_external_consistency(measured)
    assert judgement.verdict == "refuted"
    _cites_its_thresholds(judgement)


# -- txn.commit_wait_latency -------------------------------------------------------------------


def _level(bound: float, epsilon_ms: float, added_ms: float) -> UncertaintyLevel:
    without = 0.0053
    return UncertaintyLevel(bound, epsilon_ms / 1000, without, without + added_ms / 1000, 0.0)


#: The quick profile at seed 0: 1.02x, 1.04x and 1.11x of 2ε̄.
COMMIT_WAIT = CommitWaitMeasurement(
    (_level(0.001, 1.38, 2.81), _level(0.006, 2.41, 5.01), _level(0.02, 6.38, 14.2))
)


def test_commit_wait_latency_judge() -> None:
    judgement = judge_commit_wait_latency(COMMIT_WAIT)
    assert judgement.verdict == "holds"
    _cites_its_thresholds(judgement)
    contended = CommitWaitMeasurement((*COMMIT_WAIT.levels[:2], _level(0.02, 6.38, 20.0)))
    assert judge_commit_wait_latency(contended).verdict == "nuanced"  # 1.57x at the top
    overlapped = CommitWaitMeasurement((_level(0.001, 1.38, 1.4), *COMMIT_WAIT.levels[1:]))
    assert judge_commit_wait_latency(overlapped).verdict == "nuanced"  # 0.51x at the bottom
    flat = CommitWaitMeasurement(tuple(_level(b, e, 1.0) for b, e in ((0.001, 1.0), (0.02, 6.0))))
    assert judge_commit_wait_latency(flat).verdict == "refuted"


def test_a_store_without_commit_wait_refutes_its_cost() -> None:
    levels = tuple(measure_level(b, [0], 60, commit_wait=False) for b in (0.006, 0.02))
    judgement = judge_commit_wait_latency(CommitWaitMeasurement(levels))
    assert judgement.verdict == "refuted"
    _cites_its_thresholds(judgement)


# -- txn.twopc_blocking ------------------------------------------------------------------------

#: The quick profile at seed 0.
BLOCKING = BlockingMeasurement(
    runs=6,
    min_downtime_ms=250,
    max_downtime_ms=1000,
    min_blocking_ms=303.9,
    max_blocking_ms=1004.9,
    runs_blocked_less_than_downtime=0,
    max_blocking_beyond_downtime_ms=55.1,
    hot_commits_while_blocked=0,
    hot_rate_before=153.8,
    min_cold_rate_while_blocked=51.5,
)


def test_blocking_judge() -> None:
    judgement = judge_blocking(BLOCKING)
    assert judgement.verdict == "holds"
    _cites_its_thresholds(judgement)
    assert judge_blocking(replace(BLOCKING, hot_commits_while_blocked=3)).verdict == "refuted"
    stalled = replace(BLOCKING, min_cold_rate_while_blocked=0.0)
    assert judge_blocking(stalled).verdict == "nuanced"


def test_locks_held_long_past_the_recovery_are_nuanced() -> None:
    # The excess is judged: over one query interval plus a round trip (106 ms) is a nuance.
    late = replace(BLOCKING, max_blocking_beyond_downtime_ms=250.0)
    judgement = judge_blocking(late)
    assert judgement.verdict == "nuanced" and "outlived" in judgement.reason
    [excess] = [e for e in judgement.evidence if e.met is False]
    assert excess.at_most is not None and excess.at_most.value == pytest.approx(106.0)


def test_participants_aborting_alone_refute_blocking() -> None:
    # Real run: participants that give up after one query (what 2PC forbids) free the locks.
    measured = summarize_blocking([run_blocking(0, 0.5, unilateral_abort=True)])
    assert measured.runs_blocked_less_than_downtime == 1
    judgement = judge_blocking(measured)
    assert judgement.verdict == "refuted"
    _cites_its_thresholds(judgement)


# -- txn.saga_isolation ------------------------------------------------------------------------

#: The quick profile at seed 0.
SAGAS = SagaIsolationMeasurement(
    saga_runs=8,
    saga_runs_conserved=8,
    saga_violations=0,
    sagas_committed=312,
    sagas_compensated=252,
    saga_observations=137,
    saga_anomalies=95,
    saga_anomaly_share=0.6934,
    compensations_overdrawing=0,
    twopc_runs=4,
    twopc_runs_conserved=4,
    twopc_observations=78,
    twopc_anomalies=0,
)


def test_saga_isolation_judge() -> None:
    judgement = judge_saga_isolation(SAGAS)
    assert judgement.verdict == "holds"
    _cites_its_thresholds(judgement)
    assert judge_saga_isolation(replace(SAGAS, saga_violations=2)).verdict == "refuted"
    unseen = replace(SAGAS, saga_anomalies=0, saga_anomaly_share=0.0)
    assert judge_saga_isolation(unseen).verdict == "nuanced"


def test_a_two_phase_commit_control_showing_money_in_flight_refutes() -> None:
    judgement = judge_saga_isolation(replace(SAGAS, twopc_anomalies=3))
    assert judgement.verdict == "refuted"
    assert "two-phase commit showed intermediate states too" in judgement.reason


def test_services_that_apply_duplicates_refute_the_compensations() -> None:
    # Real runs: non-idempotent banks apply duplicated steps, so money is not conserved.
    tallies = isolation.tally_designs(
        TransferSetup(allowance=200, idempotent=False),
        [0, 1],
        clients=4,
        ops=60,
        designs=("orchestration",),
    )
    measured = isolation.summarize(tallies)
    assert measured.saga_runs_conserved < measured.saga_runs
    judgement = judge_saga_isolation(measured)
    assert judgement.verdict == "refuted"
    _cites_its_thresholds(judgement)


# -- txn.partition_availability ----------------------------------------------------------------

#: The quick profile at seed 0.
PARTITION = AvailabilityMeasurement(
    runs=6,
    runs_conserved=6,
    twopc=DesignAvailability(during=0.0, before=0.5859, invoked_during=40),
    saga_waiting=DesignAvailability(during=0.0, before=0.5256, invoked_during=30),
    saga_async=DesignAvailability(during=1.0, before=1.0, invoked_during=600),
    sagas_unfinished=0,
    drain_ms=422.0,
)


def test_partition_availability_judge() -> None:
    waiting = judge_partition_availability(PARTITION)
    assert waiting.verdict == "nuanced" and "asynchronous acceptance" in waiting.reason
    _cites_its_thresholds(waiting)
    both = replace(PARTITION, saga_waiting=DesignAvailability(0.5, 0.53, 30))
    assert judge_partition_availability(both).verdict == "holds"
    assert judge_partition_availability(replace(PARTITION, sagas_unfinished=3)).verdict == (
        "refuted"
    )
    assert judge_partition_availability(replace(PARTITION, runs_conserved=5)).verdict == "refuted"
    stuck = replace(PARTITION, saga_async=DesignAvailability(0.0, 1.0, 600))
    assert judge_partition_availability(stuck).verdict == "refuted"
    leaky = replace(both, twopc=DesignAvailability(0.2, 0.59, 40))
    assert judge_partition_availability(leaky).verdict == "nuanced"
