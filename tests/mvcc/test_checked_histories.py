"""Histories recorded from the engine, judged by the isolation checker (Elle's method): what
each level promises holds, the anomalies the weaker levels allow show up, and broken engines are
caught."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from archlab.check.isolation import check_isolation
from archlab.storage.mvcc import Engine, Isolation
from archlab.storage.mvcc.histories import record
from archlab.storage.mvcc.measure_isolation import WORKLOADS, measure
from archlab.storage.mvcc.workloads import lost_updates, rw_register

from .broken import IgnoresInProgressList, NoFirstUpdaterWins, SerializableWithoutSsi

RC, RR, SER = Isolation.READ_COMMITTED, Isolation.REPEATABLE_READ, Isolation.SERIALIZABLE
SEEDS = range(10)
DIRTY = {"G0", "G1a", "G1b", "G1c", "internal", "incompatible-order", "garbage-read"}


def cell(level: Isolation, workload: str, engine: Callable[[], Engine] = Engine, seeds=SEEDS):  # type: ignore[no-untyped-def]
    return measure(level, workload, seeds, clients=4, txns_per_client=10, engine_factory=engine)


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_serializable_histories_have_no_anomaly(workload: str) -> None:
    c = cell(SER, workload)
    assert c.kinds == set()
    assert c.valid_serializable == c.valid_strict == c.histories == len(SEEDS)
    assert c.committed > c.attempted // 4  # and it is not by refusing everything


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_repeatable_read_is_snapshot_isolation(workload: str) -> None:
    c = cell(RR, workload)
    assert c.valid_promised == c.histories, c.bad_seeds
    assert not c.kinds & (DIRTY | {"G-single"})


def test_repeatable_read_shows_write_skew_on_doctors_on_call() -> None:
    c = cell(RR, "doctors")
    assert c.anomalies["G2"] >= 2
    assert c.uncovered_shifts >= 1


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_read_committed_never_reads_dirty(workload: str) -> None:
    c = cell(RC, workload)
    assert c.valid_promised == c.histories, c.bad_seeds
    assert not c.kinds & DIRTY


def test_read_committed_shows_non_repeatable_reads() -> None:
    assert cell(RC, "list-append").anomalies["G-single"] >= 5


def test_the_checker_sees_every_lost_update_read_committed_allows() -> None:
    lost_histories = 0
    for seed in SEEDS:
        workload = rw_register(random.Random(seed), RC, clients=4, txns_per_client=10, keys=3)
        run = record(workload, seed)
        if lost_updates(run.events):
            lost_histories += 1
            found = check_isolation(run.events, workload="rw-register", consistency="serializable")
            assert found.anomaly_kinds & {"G-single", "G2"}, seed
    assert lost_histories >= 5


def test_visibility_ignoring_the_in_progress_list_is_caught() -> None:
    rr = cell(RR, "bank", IgnoresInProgressList)
    assert rr.valid_promised < rr.histories and "G-single" in rr.kinds
    ser = cell(SER, "list-append", IgnoresInProgressList)
    assert ser.valid_serializable < ser.histories


def test_serializable_without_ssi_is_caught() -> None:
    c = cell(SER, "doctors", SerializableWithoutSsi)
    assert c.valid_promised < c.histories and "G2" in c.kinds


def test_repeatable_read_without_first_updater_wins_is_caught() -> None:
    c = cell(RR, "bank", NoFirstUpdaterWins)
    assert c.valid_promised < c.histories and "G-single" in c.kinds


@pytest.mark.slow
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_serializable_over_many_seeds(workload: str) -> None:
    c = measure(SER, workload, range(300), clients=5, txns_per_client=15)
    assert c.kinds == set(), c.bad_seeds
    assert c.valid_strict == c.histories


@pytest.mark.slow
@pytest.mark.parametrize("level", [RC, RR])
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_weaker_levels_keep_their_promise_over_many_seeds(level: Isolation, workload: str) -> None:
    c = measure(level, workload, range(300), clients=5, txns_per_client=15)
    assert c.valid_promised == c.histories, c.bad_seeds
