"""Every txn judge gives each verdict it can give, from hand-made measurements."""

from __future__ import annotations

from archlab.txn.experiments import judge_commit_wait_latency, judge_external_consistency
from archlab.txn.saga.experiments import judge_partition_availability, judge_saga_isolation
from archlab.txn.twopc.experiments import judge_blocking


def test_external_consistency_judge() -> None:
    good = {
        "seeds_per_row": 6,
        "epsilons": 3,
        "runs_per_mode": 18,
        "violating_seeds_without_wait": 9,
        "violating_seeds_with_wait": 0,
        "tt_samples_within_bound": 5000,
        "tt_misses_within_bound": 0,
        "violating_seeds_rogue_clock": 5,
        "tt_misses_rogue_clock": 300,
    }
    assert judge_external_consistency(good).verdict == "holds"
    assert judge_external_consistency({**good, "violating_seeds_with_wait": 1}).verdict == "refuted"
    assert judge_external_consistency({**good, "tt_misses_within_bound": 2}).verdict == "refuted"
    assert (
        judge_external_consistency({**good, "violating_seeds_without_wait": 0}).verdict == "nuanced"
    )


def test_commit_wait_latency_judge() -> None:
    good = {
        "levels": 3,
        "ratio_min": 1.02,
        "ratio_max": 1.12,
        "slope": 2.2,
        "reference_epsilon_ms": 3.4,
        "reference_added_ms": 7.1,
    }
    assert judge_commit_wait_latency(good).verdict == "holds"
    assert judge_commit_wait_latency({**good, "ratio_max": 2.5}).verdict == "nuanced"
    cheap = {**good, "ratio_min": 0.05, "ratio_max": 0.2, "slope": 0.1}
    assert judge_commit_wait_latency(cheap).verdict == "refuted"


def test_blocking_judge() -> None:
    good = {
        "min_downtime_ms": 250,
        "max_downtime_ms": 1000,
        "min_blocking_ms": 300,
        "max_blocking_ms": 1050,
        "runs_blocked_less_than_downtime": 0,
        "max_blocking_beyond_downtime_ms": 55,
        "hot_commits_while_blocked": 0,
        "hot_rate_before": 150,
        "min_cold_rate_while_blocked": 40,
    }
    assert judge_blocking(good).verdict == "holds"
    assert judge_blocking({**good, "hot_commits_while_blocked": 3}).verdict == "refuted"
    assert judge_blocking({**good, "runs_blocked_less_than_downtime": 1}).verdict == "refuted"
    assert judge_blocking({**good, "min_cold_rate_while_blocked": 0}).verdict == "nuanced"


def test_saga_isolation_judge() -> None:
    good = {
        "saga_runs": 8,
        "saga_runs_conserved": 8,
        "saga_violations": 0,
        "sagas_committed": 300,
        "sagas_compensated": 250,
        "saga_observations": 130,
        "saga_anomalies": 90,
        "saga_anomaly_share": 0.69,
        "twopc_observations": 80,
        "twopc_anomalies": 0,
    }
    assert judge_saga_isolation(good).verdict == "holds"
    assert judge_saga_isolation({**good, "saga_runs_conserved": 7}).verdict == "refuted"
    assert judge_saga_isolation({**good, "saga_violations": 2}).verdict == "refuted"
    assert judge_saga_isolation({**good, "saga_anomalies": 0}).verdict == "nuanced"
    assert judge_saga_isolation({**good, "twopc_anomalies": 1}).verdict == "nuanced"


def test_partition_availability_judge() -> None:
    good = {
        "runs": 6,
        "runs_conserved": 6,
        "twopc_availability": 0.0,
        "saga_sync_availability": 0.6,
        "saga_async_availability": 1.0,
        "twopc_baseline": 0.6,
        "saga_sync_baseline": 0.55,
        "saga_async_baseline": 1.0,
        "sagas_unfinished": 0,
        "drain_ms": 400,
    }
    assert judge_partition_availability(good).verdict == "holds"
    waiting = judge_partition_availability({**good, "saga_sync_availability": 0.0})
    assert waiting.verdict == "nuanced" and "asynchronous" in waiting.reason
    assert judge_partition_availability({**good, "sagas_unfinished": 3}).verdict == "refuted"
    assert judge_partition_availability({**good, "runs_conserved": 5}).verdict == "refuted"
    assert (
        judge_partition_availability({**good, "saga_async_availability": 0.0}).verdict == "refuted"
    )
