"""The 4.3 judges give each verdict they can give, from hand-made measurements."""

from __future__ import annotations

from typing import Any

from archlab.storage.mvcc.experiments import judge_bloat, judge_freezing

BLOAT: dict[str, Any] = {
    "dead_peak_ratio": 30.0,
    "removed_while_held": 120,
    "removed_after_snapshot": 0,
    "dead_peak_held": 3000,
    "scan_slowdown_held": 12.0,
    "dead_after_ratio": 1.0,
    "pages_growth": 6.0,
    "scan_slowdown_after": 1.1,
}


def test_bloat_holds_when_the_snapshot_pins_the_horizon_and_vacuum_recovers() -> None:
    judgement = judge_bloat(BLOAT)
    assert judgement.verdict == "holds"
    assert "30x" in judgement.reason and "12.0x" in judgement.reason


def test_bloat_is_refuted_if_vacuum_reclaimed_while_the_snapshot_lived() -> None:
    assert judge_bloat({**BLOAT, "removed_after_snapshot": 900}).verdict == "refuted"


def test_bloat_is_refuted_without_bloat() -> None:
    assert judge_bloat({**BLOAT, "dead_peak_ratio": 1.2}).verdict == "refuted"


def test_bloat_is_nuanced_when_scans_do_not_slow_or_dead_tuples_stay() -> None:
    assert judge_bloat({**BLOAT, "scan_slowdown_held": 1.1}).verdict == "nuanced"
    assert judge_bloat({**BLOAT, "dead_after_ratio": 5.0}).verdict == "nuanced"


FREEZING: dict[str, Any] = {
    "worst_age_overshoot": 30,
    "age_slack": 100,
    "refused_while_held": 100,
    "first_warning_remaining": 76,
    "first_refusal_remaining": 5,
    "committed_after_release": 2000,
    "rows_missing_protected": 0,
    "rows_missing_unprotected": 2048,
    "clog_errors_unprotected": 40,
    "aggressive_count_small": 27,
    "aggressive_count_large": 4,
    "pages_per_aggressive_small": 16.0,
    "pages_per_aggressive_large": 55.0,
}


def test_freezing_holds_when_age_is_bounded_and_the_refusal_protects() -> None:
    judgement = judge_freezing(FREEZING)
    assert judgement.verdict == "holds"
    assert "76 XIDs" in judgement.reason and "2048 committed rows" in judgement.reason


def test_freezing_is_refuted_when_age_runs_past_max_age() -> None:
    assert judge_freezing({**FREEZING, "worst_age_overshoot": 500}).verdict == "refuted"


def test_freezing_is_refuted_when_nothing_was_refused() -> None:
    assert judge_freezing({**FREEZING, "refused_while_held": 0}).verdict == "refuted"


def test_freezing_is_nuanced_when_the_trade_off_or_recovery_is_missing() -> None:
    assert judge_freezing({**FREEZING, "aggressive_count_large": 30}).verdict == "nuanced"
    assert judge_freezing({**FREEZING, "committed_after_release": 0}).verdict == "nuanced"
    assert judge_freezing({**FREEZING, "rows_missing_unprotected": 0}).verdict == "nuanced"
