"""Application invariants over many seeded histories: what each level protects, what it does
not, and broken engines caught by the same measurements."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from archlab.storage.mvcc import Engine, Isolation
from archlab.storage.mvcc.histories import RecordedRun, record
from archlab.storage.mvcc.workloads import (
    balance_of,
    bank,
    bank_violations,
    doctors,
    doctors_violations,
)

from .broken import IgnoresInProgressList, NoFirstUpdaterWins, SerializableWithoutSsi

RC, RR, SER = Isolation.READ_COMMITTED, Isolation.REPEATABLE_READ, Isolation.SERIALIZABLE
SEEDS = range(25)


def bank_run(level: Isolation, seed: int, engine: Callable[[], Engine] = Engine) -> RecordedRun:
    workload = bank(random.Random(seed), level, clients=4, txns_per_client=12)
    return record(workload, seed, engine_factory=engine, vacuum_every=5)


def money_problems(run: RecordedRun) -> int:
    """Audits that saw the wrong total, plus a final total that is wrong."""
    check = bank_violations(run.events, 4, 100)
    final = sum(balance_of(v) or 0 for v in run.final.values())
    return check.bad_audits + (final != 400) + check.negative_balances


def doctors_run(level: Isolation, seed: int, engine: Callable[[], Engine] = Engine) -> int:
    workload = doctors(random.Random(seed), level, clients=4, txns_per_client=10)
    run = record(workload, seed, engine_factory=engine, vacuum_every=5)
    return doctors_violations(run.final, 2, 2)


@pytest.mark.parametrize("level", [RR, SER])
def test_snapshot_levels_never_lose_or_invent_money(level: Isolation) -> None:
    assert [s for s in SEEDS if money_problems(bank_run(level, s))] == []


def test_read_committed_loses_updates() -> None:
    assert sum(money_problems(bank_run(RC, s)) > 0 for s in SEEDS) >= 10


def test_read_committed_with_locking_reads_keeps_the_money() -> None:
    for seed in SEEDS:
        workload = bank(random.Random(seed), RC, clients=4, txns_per_client=12, for_update=True)
        run = record(workload, seed)
        assert sum(balance_of(v) or 0 for v in run.final.values()) == 400, seed


def test_serializable_never_leaves_a_shift_uncovered() -> None:
    assert sum(doctors_run(SER, s) for s in SEEDS) == 0


def test_repeatable_read_leaves_shifts_uncovered_by_write_skew() -> None:
    assert sum(doctors_run(RR, s) > 0 for s in SEEDS) >= 3


def test_broken_visibility_ignoring_the_in_progress_list_is_caught() -> None:
    caught = [s for s in SEEDS if money_problems(bank_run(RR, s, IgnoresInProgressList))]
    assert len(caught) >= 5


def test_repeatable_read_without_first_updater_wins_is_caught() -> None:
    caught = [s for s in SEEDS if money_problems(bank_run(RR, s, NoFirstUpdaterWins))]
    assert len(caught) >= 5


def test_serializable_without_ssi_is_caught() -> None:
    assert sum(doctors_run(SER, s, SerializableWithoutSsi) > 0 for s in SEEDS) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("level", [RR, SER])
def test_money_is_conserved_over_many_seeds(level: Isolation) -> None:
    for seed in range(1000):
        assert money_problems(bank_run(level, seed)) == 0, seed


@pytest.mark.slow
def test_no_write_skew_at_serializable_over_many_seeds() -> None:
    for seed in range(1000):
        assert doctors_run(SER, seed) == 0, seed
