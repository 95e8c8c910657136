"""The 4.3 judges give each verdict they can give: from values recorded in real quick runs,
from those values changed one at a time, and from real measurements of engines broken on
purpose (tests/mvcc/broken.py)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from archlab.lab.judging import Judgement
from archlab.storage.mvcc.experiments.bloat import (
    BloatMeasurement,
    bloat_measurement,
    judge_bloat,
)
from archlab.storage.mvcc.experiments.freezing import FreezingMeasurement, judge_freezing
from archlab.storage.mvcc.experiments.isolation import (
    IsolationMeasurement,
    isolation_measurement,
    judge_isolation,
)
from archlab.storage.mvcc.measure_bloat import run_bloat
from archlab.storage.mvcc.measure_isolation import WORKLOADS, measure
from archlab.storage.mvcc.settings import MvccSettings
from archlab.storage.mvcc.transaction import Isolation

from .broken import SerializableWithoutSsi, VacuumIgnoringSnapshots


def _cites_sources(judgement: Judgement) -> None:
    assert judgement.evidence, "every verdict cites the numbers it compared"
    compared = [e for e in judgement.evidence if e.threshold is not None]
    assert compared and all(e.threshold.source for e in compared if e.threshold is not None)


# -- bloat ---------------------------------------------------------------------------------------

#: The quick profile's measurement (seed 0).
BLOAT = BloatMeasurement(
    rows=500,
    updates_held=2800,
    dead_base_mean=71.1,
    dead_base_peak=150,
    dead_peak_held=2800,
    pile_up=1.0,
    dead_peak_ratio=39.41,
    removed_while_held=0,
    dead_at_hold=0,
    removed_after_snapshot=0,
    vacuum_pages_while_held=1699,
    scan_ms_base=0.5167,
    scan_ms_held=27.4272,
    scan_slowdown_held=53.08,
    dead_after_ratio=1.0,
    scan_slowdown_after=0.98,
    pages_start=16,
    pages_peak=107,
    pages_end=107,
    pages_end_base=22,
    pages_growth=6.69,
    heap_kept=1.0,
)


def test_bloat_holds_when_the_snapshot_pins_the_horizon_and_vacuum_recovers() -> None:
    judgement = judge_bloat(BLOAT)
    assert judgement.verdict == "holds"
    assert "2800" in judgement.reason and "53.1x" in judgement.reason
    _cites_sources(judgement)


@pytest.mark.parametrize(
    "change",
    [
        {"removed_after_snapshot": 900},  # vacuum reclaimed what the snapshot could see
        {"dead_peak_held": 150, "pile_up": 0.054},  # no pile-up: the run without the snapshot
    ],
)
def test_bloat_is_refuted_when_the_snapshot_does_not_hold_cleanup_back(
    change: dict[str, float],
) -> None:
    judgement = judge_bloat(replace(BLOAT, **change))
    assert judgement.verdict == "refuted"
    _cites_sources(judgement)


def test_bloat_is_refuted_by_a_real_run_of_a_vacuum_that_ignores_snapshots() -> None:
    window = (300, 900)
    runs = run_bloat(
        rows=100,
        txns=1200,
        naptime=50,
        sample_every=50,
        scan_repeats=1,
        scenarios={"none": None, "held": window},
        rng=random.Random(1),
        settings=MvccSettings(tuples_per_page=16),
        engine_factory=VacuumIgnoringSnapshots,
    )
    measured = bloat_measurement(runs["none"], runs["held"], window, naptime=50)
    assert measured.pile_up < 0.5
    assert judge_bloat(measured).verdict == "refuted"


@pytest.mark.parametrize(
    "change",
    [
        {"scan_slowdown_held": 1.1},  # scans no slower than noise
        {"dead_after_ratio": 5.0},  # the backlog stayed after the snapshot ended
        {"pages_end": 30, "heap_kept": 0.28},  # vacuum gave the space back
    ],
)
def test_bloat_is_nuanced_when_a_consequence_does_not_follow(change: dict[str, float]) -> None:
    judgement = judge_bloat(replace(BLOAT, **change))
    assert judgement.verdict == "nuanced"
    _cites_sources(judgement)


# -- freezing ------------------------------------------------------------------------------------

#: The quick profile's measurement (seed 0).
FREEZING = FreezingMeasurement(
    xid_bits=14,
    xids_per_run=5722,
    naptime=50,
    worst_age_overshoot=37,
    overshoot_naptimes=0.74,
    aggressive_count_small=27,
    aggressive_count_large=4,
    pages_per_aggressive_small=16.4,
    pages_per_aggressive_large=55.5,
    rarer=6.75,
    larger=3.38,
    warnings_in_normal_runs=0,
    blocked_xid_bits=13,
    pg_warn_margin=76,
    pg_stop_margin=5,
    first_warning_remaining=76,
    first_refusal_remaining=5,
    warning_offset=0,
    refusal_offset=0,
    refused_while_held=100,
    committed_after_release=1944,
    rows_missing_protected=0,
    rows_missing_unprotected=2048,
    clog_errors_protected=0,
    clog_errors_unprotected=40,
)


def test_freezing_holds_when_age_is_bounded_and_the_refusal_protects() -> None:
    judgement = judge_freezing(FREEZING)
    assert judgement.verdict == "holds"
    assert "76 XIDs" in judgement.reason and "2048 committed rows" in judgement.reason
    _cites_sources(judgement)


@pytest.mark.parametrize(
    "change",
    [
        {"worst_age_overshoot": 500, "overshoot_naptimes": 10.0},  # forced vacuums too late
        {"refused_while_held": 0},  # kept handing out XIDs
        # the run with the refusal switched off, as measured (quick profile): no XID refused
        # and 2048 committed rows gone
        {
            "refused_while_held": 0,
            "first_refusal_remaining": 0,
            "refusal_offset": 5,
            "rows_missing_protected": 2048,
            "clog_errors_protected": 40,
        },
    ],
)
def test_freezing_is_refuted_when_age_runs_away_or_the_refusal_fails(
    change: dict[str, float],
) -> None:
    judgement = judge_freezing(replace(FREEZING, **change))
    assert judgement.verdict == "refuted"
    _cites_sources(judgement)


@pytest.mark.parametrize(
    "change",
    [
        {"aggressive_count_large": 20, "rarer": 1.35},  # a larger max age is not rarer
        {"pages_per_aggressive_large": 18.0, "larger": 1.1},  # ... nor larger
        {"committed_after_release": 0},  # work never resumed
        {"rows_missing_unprotected": 0},  # the counterfactual lost nothing
        {"first_warning_remaining": 40, "warning_offset": 36},  # warned at the wrong margin
        {"first_refusal_remaining": 12, "refusal_offset": 7},  # refused at the wrong margin
    ],
)
def test_freezing_is_nuanced_when_a_part_of_the_claim_does_not_follow(
    change: dict[str, float],
) -> None:
    judgement = judge_freezing(replace(FREEZING, **change))
    assert judgement.verdict == "nuanced"
    _cites_sources(judgement)


# -- isolation -----------------------------------------------------------------------------------

#: The quick profile's measurement (seed 0).
ISOLATION = IsolationMeasurement(
    histories_per_level=32,
    histories_breaking_promise=0,
    ser_histories_with_anomalies=0,
    rr_histories_with_g_single_or_dirty=0,
    rc_histories_dirty=0,
    rr_write_skew_histories=7,
    rr_uncovered_shifts=2,
    rc_g_single_histories=18,
    rc_lost_updates=31,
    snapshot_lost_updates=0,
    rc_half_transfer_audits=24,
    rc_overdrawn_accounts=4,
    ser_serialization_failures=349,
)


def test_isolation_holds_when_each_level_shows_exactly_what_it_allows() -> None:
    judgement = judge_isolation(ISOLATION)
    assert judgement.verdict == "holds"
    assert "write skew (G2) in 7" in judgement.reason and "31 lost" in judgement.reason
    _cites_sources(judgement)


@pytest.mark.parametrize(
    "broken",
    [
        "histories_breaking_promise",
        "ser_histories_with_anomalies",
        "rr_histories_with_g_single_or_dirty",
        "rc_histories_dirty",
        "snapshot_lost_updates",
    ],
)
def test_isolation_is_refuted_when_a_level_breaks_its_promise(broken: str) -> None:
    judgement = judge_isolation(replace(ISOLATION, **{broken: 1}))
    assert judgement.verdict == "refuted"
    _cites_sources(judgement)


def test_isolation_is_refuted_by_real_histories_of_serializable_without_ssi() -> None:
    seeds = range(4)
    cells = {
        (level, workload): measure(
            level,
            workload,
            seeds,
            clients=4,
            txns_per_client=10,
            engine_factory=SerializableWithoutSsi,
        )
        for level in Isolation
        for workload in WORKLOADS
    }
    measured = isolation_measurement(cells)
    assert measured.ser_histories_with_anomalies > 0
    assert judge_isolation(measured).verdict == "refuted"


@pytest.mark.parametrize(
    "unseen", ["rr_write_skew_histories", "rc_g_single_histories", "rc_lost_updates"]
)
def test_isolation_is_nuanced_when_an_allowed_anomaly_never_showed(unseen: str) -> None:
    judgement = judge_isolation(replace(ISOLATION, **{unseen: 0}))
    assert judgement.verdict == "nuanced"
    _cites_sources(judgement)
