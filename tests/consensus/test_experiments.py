"""The Raft experiments' judges give each verdict they can give, from hand-made values."""

from __future__ import annotations

import pytest

from archlab.consensus.experiments import (
    judge_election_randomness,
    judge_partition_availability,
    parse_ranges,
)
from archlab.consensus.raft.availability import PartitionSetup, partition_run
from archlab.consensus.raft.failover import FailoverSetup, run_trial
from archlab.errors import ConfigError
from archlab.lab import Value

FIGURE_16: dict[str, Value] = {
    "median_ms_150_150": 4000.0,
    "slow_share_150_150": 0.25,
    "median_ms_150_155": 300.0,
    "max_ms_150_200": 520.0,
    "median_ms_150_300": 160.0,
}


class TestElectionRandomness:
    def test_the_paper_reproduced_holds(self) -> None:
        judgement = judge_election_randomness(FIGURE_16)
        assert judgement.verdict == "holds"
        assert "median 300 ms (paper 287 ms)" in judgement.reason

    def test_randomness_that_does_not_help_refutes(self) -> None:
        values = {**FIGURE_16, "median_ms_150_150": 200.0}
        assert judge_election_randomness(values).verdict == "refuted"

    def test_the_trend_without_the_paper_figures_is_nuanced(self) -> None:
        values = {**FIGURE_16, "slow_share_150_150": 0.0, "max_ms_150_200": 2000.0}
        assert judge_election_randomness(values).verdict == "nuanced"

    def test_the_short_range_is_reported_when_measured(self) -> None:
        judgement = judge_election_randomness({**FIGURE_16, "mean_ms_12_24": 70.0})
        assert "12–24 ms: mean 70 ms (paper 35 ms)" in judgement.reason

    def test_ranges_parse_and_bad_ones_are_refused(self) -> None:
        assert parse_ranges("150-150, 12-24") == [(150, 150), (12, 24)]
        with pytest.raises(ConfigError, match="'150' is not LOW-HIGH"):
            parse_ranges("150")


PARTITION: dict[str, Value] = {
    "seeds": 4,
    "minority_commits": 0,
    "minority_ok_replies": 0,
    "majority_elected_seeds": 4,
    "election_after_max_ms": 170.0,
    "majority_throughput_ratio_min": 0.85,
    "caught_up_max_ms": 25.0,
    "linearizable_seeds": 4,
}


class TestPartitionAvailability:
    def test_a_majority_that_carries_on_holds(self) -> None:
        assert judge_partition_availability(PARTITION).verdict == "holds"

    @pytest.mark.parametrize(
        "broken",
        [
            {"minority_commits": 3},
            {"minority_ok_replies": 1},
            {"majority_elected_seeds": 3},
            {"linearizable_seeds": 3},
        ],
    )
    def test_a_minority_that_commits_or_a_stuck_majority_refutes(
        self, broken: dict[str, Value]
    ) -> None:
        assert judge_partition_availability({**PARTITION, **broken}).verdict == "refuted"

    def test_a_slow_majority_or_slow_catch_up_is_nuanced(self) -> None:
        slow = {**PARTITION, "majority_throughput_ratio_min": 0.2}
        assert judge_partition_availability(slow).verdict == "nuanced"
        lagging = {**PARTITION, "caught_up_max_ms": 5000.0}
        assert judge_partition_availability(lagging).verdict == "nuanced"


class TestHarnesses:
    def test_a_failover_trial_elects_a_new_leader_and_is_reproducible(self) -> None:
        setup = FailoverSetup(150, 300)
        first, again = run_trial(setup, 3), run_trial(setup, 3)
        assert first == again
        assert first.election_time is not None and 0.0 < first.election_time < 1.0
        assert first.rounds >= 1

    def test_identical_timeouts_and_steady_latency_can_deadlock_past_the_cap(self) -> None:
        setup = FailoverSetup(150, 150, latency_ms=(7.4, 7.6), cap=2.0)
        trials = [run_trial(setup, seed) for seed in range(8)]
        assert any(t.election_time is None for t in trials), "split votes, round after round"
        stuck = [t for t in trials if t.election_time is None]
        assert min(t.rounds for t in stuck) >= 5, "each capped trial went through many terms"

    def test_a_partition_leaves_the_minority_without_commits(self) -> None:
        run = partition_run(PartitionSetup(), 0)
        assert run.minority_commits == 0 and run.ops_during["minority"] == 0
        assert run.ops_during["majority"] > 100
        assert run.election_after is not None and run.deposed_after is not None
        assert run.caught_up_after is not None and run.linearizable is True
        assert len(run.majority) == 3 and len(run.minority) == 2

    def test_setups_are_validated(self) -> None:
        with pytest.raises(ValueError):
            FailoverSetup(150, 100)
        with pytest.raises(ValueError):
            PartitionSetup(servers=5, minority=3)
