"""The Raft experiments' judges give each verdict they can give, from measured and hand-made
values; the harnesses behind them run and are reproducible."""

from __future__ import annotations

from dataclasses import replace

import pytest

from archlab.consensus.election_randomness import (
    ElectionRandomnessMeasurement,
    RangeStats,
    judge_election_randomness,
    median_interval,
    parse_ranges,
)
from archlab.consensus.partition_availability import (
    PartitionMeasurement,
    judge_partition_availability,
)
from archlab.consensus.raft.availability import PartitionSetup, partition_run
from archlab.consensus.raft.failover import FailoverSetup, run_trial
from archlab.errors import ConfigError


def _range(
    low: int, high: int, median: float, lo: float, hi: float, worst: float, slow: float
) -> RangeStats:
    return RangeStats(low, high, 40, median, lo, hi, median, worst, median, slow, 1.0)


#: The quick profile's measurement at seed 0 (40 trials per range).
FIGURE_16 = ElectionRandomnessMeasurement(
    cap_s=10.0,
    ranges=(
        _range(150, 150, 6421.0, 2500.0, 10000.0, 10000.0, 0.275),
        _range(150, 155, 637.0, 135.0, 800.0, 2133.0, 0.0),
        _range(150, 200, 159.0, 142.0, 170.0, 511.0, 0.0),
        _range(150, 300, 168.0, 154.0, 180.0, 241.0, 0.0),
    ),
)


def _with(m: ElectionRandomnessMeasurement, row: RangeStats) -> ElectionRandomnessMeasurement:
    """``m`` with ``row`` in place of the range it measures (or added)."""
    others = tuple(r for r in m.ranges if (r.low_ms, r.high_ms) != (row.low_ms, row.high_ms))
    return replace(m, ranges=(*others, row))


class TestElectionRandomness:
    def test_the_paper_reproduced_holds(self) -> None:
        judgement = judge_election_randomness(FIGURE_16)
        assert judgement.verdict == "holds"
        assert "median 637 ms, 95% interval 135–800 ms" in judgement.reason
        assert all(e.threshold is not None and e.threshold.source for e in judgement.evidence)

    def test_randomness_that_does_not_help_refutes(self) -> None:
        # 5–10 ms links desynchronise identical timeouts; had they also beaten 150–300 ms:
        fast = _range(150, 150, 160.0, 150.0, 175.0, 400.0, 0.0)
        assert judge_election_randomness(_with(FIGURE_16, fast)).verdict == "refuted"

    def test_a_median_far_from_the_papers_is_nuanced(self) -> None:
        # Measured with 5–10 ms one-way links (seed 0, 40 trials): 150–155 ms gave a median of
        # 495 ms, 95% interval 412–655 ms, which leaves the paper's 287 ms out.
        jittery = _range(150, 155, 495.0, 412.0, 655.0, 2600.0, 0.0)
        judgement = judge_election_randomness(_with(FIGURE_16, jittery))
        assert judgement.verdict == "nuanced"
        assert "lower 95% bound" in judgement.reason

    def test_no_split_vote_storms_or_a_long_tail_is_nuanced(self) -> None:
        calm = _range(150, 150, 900.0, 600.0, 1400.0, 3000.0, 0.0)
        assert judge_election_randomness(_with(FIGURE_16, calm)).verdict == "nuanced"
        tail = _range(150, 200, 159.0, 142.0, 170.0, 900.0, 0.0)
        assert judge_election_randomness(_with(FIGURE_16, tail)).verdict == "nuanced"

    def test_the_short_range_is_reported_when_measured(self) -> None:
        short = _range(12, 24, 30.0, 25.0, 35.0, 90.0, 0.0)
        judgement = judge_election_randomness(_with(FIGURE_16, replace(short, mean_ms=70.0)))
        assert "12–24 ms: mean 70 ms (paper 35 ms)" in judgement.reason

    def test_the_median_interval_uses_order_statistics(self) -> None:
        samples = [float(i) for i in range(1, 41)]
        assert median_interval(samples) == (14.0, 27.0)  # ranks 14 and 27 of 40
        assert median_interval([5.0]) == (5.0, 5.0)

    def test_ranges_parse_and_bad_ones_are_refused(self) -> None:
        assert parse_ranges("150-150, 12-24") == [(150, 150), (12, 24)]
        with pytest.raises(ConfigError, match="'150' is not LOW-HIGH"):
            parse_ranges("150")


#: The quick profile's measurement at seed 0.
PARTITION = PartitionMeasurement(
    seeds=4,
    minority_commits=0,
    minority_ok_replies=0,
    majority_elected_seeds=4,
    election_after_max_ms=170.0,
    election_after_median_ms=148.0,
    majority_throughput_ratio_min=0.851,
    caught_up_max_ms=25.0,
    linearizable_seeds=4,
)


class TestPartitionAvailability:
    def test_a_majority_that_carries_on_holds(self) -> None:
        judgement = judge_partition_availability(PARTITION)
        assert judgement.verdict == "holds"
        assert all(e.met for e in judgement.evidence)

    @pytest.mark.parametrize(
        "broken",
        [
            {"minority_commits": 3},
            {"minority_ok_replies": 1},
            {"majority_elected_seeds": 3, "election_after_max_ms": None},
            {"linearizable_seeds": 3},
        ],
    )
    def test_a_minority_that_commits_or_a_stuck_majority_refutes(
        self, broken: dict[str, object]
    ) -> None:
        judgement = judge_partition_availability(replace(PARTITION, **broken))  # type: ignore[arg-type]
        assert judgement.verdict == "refuted"
        assert any(e.met is False for e in judgement.evidence)

    def test_a_slow_majority_or_slow_catch_up_is_nuanced(self) -> None:
        slow = replace(PARTITION, majority_throughput_ratio_min=0.2)
        assert judge_partition_availability(slow).verdict == "nuanced"
        lagging = replace(PARTITION, caught_up_max_ms=5000.0)
        assert judge_partition_availability(lagging).verdict == "nuanced"
        never = replace(PARTITION, caught_up_max_ms=None)
        assert judge_partition_availability(never).verdict == "nuanced"
        late = replace(PARTITION, election_after_max_ms=900.0)
        assert judge_partition_availability(late).verdict == "nuanced"


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
