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
    lost_updates,
    rw_register,
)

from .broken import IgnoresInProgressList, NoFirstUpdaterWins, SerializableWithoutSsi

RC, RR, SER = Isolation.READ_COMMITTED, Isolation.REPEATABLE_READ, Isolation.SERIALIZABLE
SEEDS = range(25)
Factory = Callable[[], Engine]


def bank_run(level: Isolation, seed: int, engine: Factory = Engine) -> RecordedRun:
    workload = bank(random.Random(seed), level, clients=4, txns_per_client=12)
    return record(workload, seed, engine_factory=engine, vacuum_every=5)


def money_problems(run: RecordedRun) -> int:
    """Audits that saw the wrong total, overdrawn accounts, and a wrong final total."""
    check = bank_violations(run.events, run.final, 4, 100)
    final = sum(balance_of(v) for v in run.final.values())
    return check.bad_audits + check.overdrawn + (final != 400)


def doctors_run(level: Isolation, seed: int, engine: Factory = Engine) -> int:
    workload = doctors(random.Random(seed), level, clients=4, txns_per_client=10)
    run = record(workload, seed, engine_factory=engine, vacuum_every=5)
    return doctors_violations(run.final, 2, 2)


def lost_run(level: Isolation, seed: int, engine: Factory = Engine) -> int:
    workload = rw_register(random.Random(seed), level, clients=4, txns_per_client=10, keys=3)
    return lost_updates(record(workload, seed, engine_factory=engine).events)


@pytest.mark.parametrize("level", [RR, SER])
def test_snapshot_levels_keep_the_books(level: Isolation) -> None:
    assert [s for s in SEEDS if money_problems(bank_run(level, s))] == []


def test_read_committed_overdraws_on_stale_funds_checks() -> None:
    assert sum(money_problems(bank_run(RC, s)) > 0 for s in SEEDS) >= 5


def test_read_committed_with_locking_funds_checks_never_overdraws_but_audits_read_skew() -> None:
    skewed = 0
    for seed in SEEDS:
        workload = bank(random.Random(seed), RC, clients=4, txns_per_client=12, for_update=True)
        run = record(workload, seed)
        check = bank_violations(run.events, run.final, 4, 100)
        assert check.overdrawn == 0, seed
        assert sum(balance_of(v) for v in run.final.values()) == 400
        skewed += check.bad_audits
    assert skewed > 0  # each statement has its own snapshot: an audit can see half a transfer


def test_read_committed_loses_updates_and_the_snapshot_levels_do_not() -> None:
    assert sum(lost_run(RC, s) for s in SEEDS) >= 10
    assert sum(lost_run(RR, s) + lost_run(SER, s) for s in SEEDS) == 0


def test_serializable_never_leaves_a_shift_uncovered() -> None:
    assert sum(doctors_run(SER, s) for s in SEEDS) == 0


def test_repeatable_read_leaves_shifts_uncovered_by_write_skew() -> None:
    assert sum(doctors_run(RR, s) > 0 for s in SEEDS) >= 3


def test_broken_visibility_ignoring_the_in_progress_list_is_caught() -> None:
    caught = [s for s in SEEDS if money_problems(bank_run(RR, s, IgnoresInProgressList))]
    assert len(caught) >= 3


def test_repeatable_read_without_first_updater_wins_is_caught() -> None:
    assert sum(lost_run(RR, s, NoFirstUpdaterWins) for s in SEEDS) >= 10
    assert sum(money_problems(bank_run(RR, s, NoFirstUpdaterWins)) > 0 for s in SEEDS) >= 3


def test_serializable_without_ssi_is_caught() -> None:
    assert sum(doctors_run(SER, s, SerializableWithoutSsi) > 0 for s in SEEDS) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("level", [RR, SER])
def test_the_books_balance_over_many_seeds(level: Isolation) -> None:
    for seed in range(1000):
        assert money_problems(bank_run(level, seed)) == 0, seed


@pytest.mark.slow
def test_no_write_skew_at_serializable_over_many_seeds() -> None:
    for seed in range(1000):
        assert doctors_run(SER, seed) == 0, seed
