"""The Spanner-style store: strictly serializable with commit wait, not without it."""

from __future__ import annotations

from tests.txn.scenarios import run


def _verdicts(variant: str, seeds: range, drift_bound: float = 0.02) -> list[object]:
    return [
        run("spanner", seed, ops=150, variant=variant, drift_bound=drift_bound)[1].valid
        for seed in seeds
    ]


def test_with_commit_wait_every_history_is_strictly_serializable() -> None:
    assert _verdicts("commit-wait", range(1, 11)) == [True] * 10


def test_without_commit_wait_the_checker_finds_real_time_violations() -> None:
    verdicts = _verdicts("no-commit-wait", range(1, 11))
    assert False in verdicts
    _, outcome = run("spanner", 20, ops=300, variant="no-commit-wait", drift_bound=0.02)
    assert outcome.valid is False and "-realtime" in outcome.summary  # a regression seed


def test_commit_wait_cannot_save_a_clock_that_breaks_the_drift_bound() -> None:
    assert False in _verdicts("rogue-clock", range(1, 6), drift_bound=0.006)


def test_snapshot_reads_stay_correct_under_crashes_and_partitions() -> None:
    for seed in range(1, 6):
        result, outcome = run("spanner", seed, "crash,partition,loss", ops=150)
        assert outcome.valid is True, outcome.summary
        assert result.stats["audit"]["counts"]["committed"] > 0
