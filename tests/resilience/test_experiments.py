"""The 9.2-9.3 judges reach every verdict, refuted ones from real measurements of broken parts."""

from __future__ import annotations

from archlab.resilience.hammer import hammer
from archlab.resilience.limits import Limit
from archlab.resilience.measure_atomicity import AtomicityMeasurement, LimiterRun, judge_atomicity
from archlab.resilience.measure_sharding import (
    ShardingMeasurement,
    ShardingResult,
    binomial_quantile,
    judge_sharding,
    measure_one,
)
from archlab.resilience.redisproc import RedisServer


def _atomic_runs(over: int = 0) -> list[LimiterRun]:
    return [LimiterRun(a, "atomic", 640, 50 + over, 50) for a in ("token_bucket", "gcra")]


def test_atomicity_holds_when_scripts_hold_and_the_naive_client_over_admits() -> None:
    m = AtomicityMeasurement(
        "redis", [*_atomic_runs(), LimiterRun("token_bucket", "naive", 640, 410, 50)]
    )
    judgement = judge_atomicity(m)
    assert judgement.verdict == "holds" and "8.2x" in judgement.reason


def test_atomicity_is_nuanced_when_the_race_was_not_reached() -> None:
    m = AtomicityMeasurement(
        "redis", [*_atomic_runs(), LimiterRun("token_bucket", "naive", 64, 50, 50)]
    )
    assert judge_atomicity(m).verdict == "nuanced"


def test_atomicity_is_refuted_by_a_measured_limiter_that_is_not_atomic(
    redis_server: RedisServer,
) -> None:
    limit = Limit("token_bucket", rate=1, period=3600.0, burst=50)
    runs = []
    for attempt in range(5):
        # The naive client measured in the place of an atomic script: the rule must catch it.
        r = hammer(redis_server.port, "naive", limit, key=f"broken-{attempt}", processes=4,
                   threads=4, requests=40)  # fmt: skip
        runs.append(LimiterRun("token_bucket", "atomic", r.attempted, r.admitted, r.allowed))
        if r.over_admitted:
            break
    judgement = judge_atomicity(AtomicityMeasurement("redis", runs))
    assert judgement.verdict == "refuted"
    assert judgement.evidence[0].met is False


class _FewCombinations:
    """A broken shuffle sharder: tenants land on only ``count`` of the possible combinations."""

    def __init__(self, count: int) -> None:
        self.count = count

    def shard(self, tenant: str) -> tuple[str, ...]:
        i = sum(map(ord, tenant)) % self.count
        return (f"w{i}", f"w{i + 1}")


def test_sharding_holds_for_the_real_shuffle_sharder() -> None:
    r = measure_one(8, 2, 2000, 5, seed=0)
    assert judge_sharding(ShardingMeasurement([r])).verdict == "holds"


def test_sharding_is_refuted_by_a_measured_sharder_no_better_than_plain() -> None:
    r = measure_one(8, 2, 2000, 5, seed=0, shuffle=_FewCombinations(2))
    assert r.shuffle_cut_off >= r.plain_cut_off
    assert judge_sharding(ShardingMeasurement([r])).verdict == "refuted"


def test_sharding_is_nuanced_when_better_than_plain_but_clustered() -> None:
    r = measure_one(8, 2, 2000, 5, seed=0, shuffle=_FewCombinations(7))
    assert r.shuffle_cut_off < r.plain_cut_off
    assert judge_sharding(ShardingMeasurement([r])).verdict == "nuanced"


def test_the_binomial_quantile_brackets_the_mean() -> None:
    assert binomial_quantile(28_000, 1 / 28, 0.5) in (999, 1000)
    assert 1000 < binomial_quantile(28_000, 1 / 28, 0.9995) < 1120
    assert binomial_quantile(10, 0.0, 0.99) == 0


def test_a_result_reports_its_shares() -> None:
    r = ShardingResult(8, 2, 100, 2, 50, 7, 90, 20)
    assert (r.trials, r.plain_share, r.shuffle_share, r.touched_share) == (200, 0.25, 0.035, 0.45)
