"""Parameters whose valid range is not simply "positive" declare it; --set checks it up front."""

from __future__ import annotations

import pytest

from archlab.errors import ConfigError
from archlab.lab import registry


@pytest.mark.parametrize(
    ("experiment_id", "name", "bad", "good"),
    [
        ("txn.commit_wait_latency", "drift_bounds", "0.006,2", "0.006,0.02"),
        ("txn.external_consistency", "drift_bounds", "1.5", "0.02"),
        ("storage.compaction_styles", "size_ratio", "1", "3"),
        ("design.regime_map", "peak_factor", "0.5", "2"),
        ("ids.k_ordering", "drift", "3", "0.001"),
    ],
)
def test_a_value_outside_the_declared_range_is_refused_before_running(
    experiment_id: str, name: str, bad: str, good: str
) -> None:
    exp = registry.get(experiment_id)
    with pytest.raises(ConfigError, match=name):
        exp.params("quick", {name: bad})
    assert exp.params("quick", {name: good})[name] is not None


def test_cluster_sizes_are_checked_where_they_are_parsed() -> None:
    from archlab.consensus.comparison.experiments import parse_sizes

    assert parse_sizes("7,3,5") == [3, 5, 7]
    for bad in ("0", "3", "3,x", "2,3"):
        with pytest.raises(ConfigError, match="sizes"):
            parse_sizes(bad)
