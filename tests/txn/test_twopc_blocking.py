"""A coordinator that crashes after its prepares leaves its participants blocked, locks held."""

from __future__ import annotations

from archlab.txn.twopc.blocking import HOME, run_blocking


def test_participants_hold_the_locks_until_the_coordinator_is_back() -> None:
    run = run_blocking(seed=1, downtime=0.4)
    assert set(run.blocked) == set(HOME.values())  # both participants prepared and waited
    for held in run.blocked.values():
        # No less than the downtime; then one query interval to ask the recovered coordinator.
        assert 0.4 <= held <= 0.4 + 0.1 + 0.02
    assert run.hot_commits_while_blocked == 0 and run.hot_rate_before > 0
    assert run.cold_rate_while_blocked > 0  # keys the victim does not hold stay available
    assert any(hot for t, hot, _ in run.timeline if t > run.crash_at + run.blocking + 0.05)
