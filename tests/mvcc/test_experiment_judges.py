"""The 4.3 judges give each verdict they can give, from hand-made measurements."""

from __future__ import annotations

from typing import Any

import pytest

from archlab.storage.mvcc.experiments import judge_bloat, judge_freezing, judge_isolation

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


ISOLATION: dict[str, Any] = {
    "histories_per_level": 32,
    "histories_breaking_promise": 0,
    "ser_histories_with_anomalies": 0,
    "rr_histories_with_g_single_or_dirty": 0,
    "rc_histories_dirty": 0,
    "rr_write_skew_histories": 7,
    "rc_g_single_histories": 18,
    "rc_lost_updates": 31,
    "snapshot_lost_updates": 0,
}


def test_isolation_holds_when_each_level_shows_exactly_what_it_allows() -> None:
    judgement = judge_isolation(ISOLATION)
    assert judgement.verdict == "holds"
    assert "write skew (G2) in 7" in judgement.reason and "31 lost" in judgement.reason


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
    assert judge_isolation({**ISOLATION, broken: 1}).verdict == "refuted"


@pytest.mark.parametrize(
    "unseen", ["rr_write_skew_histories", "rc_g_single_histories", "rc_lost_updates"]
)
def test_isolation_is_nuanced_when_an_allowed_anomaly_never_showed(unseen: str) -> None:
    assert judge_isolation({**ISOLATION, unseen: 0}).verdict == "nuanced"
