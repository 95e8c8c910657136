"""The three example designs: each one's review, finding by finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from archlab.design.review import review_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("url-shortener", {("tracing.head_sampling_loses_errors", "warning")}),
        ("chat", {("lsm.leveled_compaction_for_writes", "warning")}),
        (
            "payments",
            {
                ("tls.zero_rtt_not_idempotent", "error"),
                ("transactions.2pc_high_availability", "error"),
                ("mvcc.long_transactions", "warning"),
                ("ids.random_keys_on_btree", "warning"),
            },
        ),
    ],
)
def test_example_reviews(name: str, expected: set[tuple[str, str]]) -> None:
    review = review_file(EXAMPLES / f"{name}.yaml")
    assert {(f.rule, f.severity) for f in review.findings} == expected
    for finding in review.findings:
        assert finding.line is not None  # each finding points into the file


def test_url_shortener_estimate() -> None:
    review = review_file(EXAMPLES / "url-shortener.yaml")
    est = review.estimate
    assert est.read_qps_peak == pytest.approx(34_722, rel=1e-3)  # 100M × 10 / 86,400 × 3
    assert est.dataset_bytes == pytest.approx(18.25e12)  # 100M × 0.1 × 500 B × 3,650 days
    assert {i.rule for i in review.implications} == {
        "table1.throughput_sharding_or_cache",
        "table1.latency_in_memory_cache",
        "table1.storage_sharding_or_dfs",
    }


def test_chat_meets_five_nines_with_active_active() -> None:
    review = review_file(EXAMPLES / "chat.yaml")
    assert "table1.availability_multi_region" in {i.rule for i in review.implications}
    assert review.estimate.downtime_s_per_year == pytest.approx(315.36)
    assert review.estimate.write_qps_peak == pytest.approx(3.47e6, rel=1e-3)


def test_payments_findings_carry_numbers() -> None:
    review = review_file(EXAMPLES / "payments.yaml")
    by_rule = {f.rule: f for f in review.findings}
    assert "POST /charges" in by_rule["tls.zero_rtt_not_idempotent"].trigger
    assert "99.97%" in by_rule["transactions.2pc_high_availability"].trigger
    assert "16.7M dead row versions" in by_rule["mvcc.long_transactions"].trigger
    assert "2.31k writes/s" in by_rule["ids.random_keys_on_btree"].trigger
