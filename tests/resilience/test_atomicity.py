"""Concurrent processes on a real redis-server: the script never over-admits, the naive one does."""

from __future__ import annotations

import pytest

from archlab.resilience.hammer import allowed_bound, hammer
from archlab.resilience.limits import ALGORITHMS, Algorithm, Limit
from archlab.resilience.redisproc import RedisServer

#: A limit that refills so slowly that, over a test's few seconds, it may admit only its burst.
SLOW = {"rate": 1, "period": 3600.0, "burst": 50}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_atomic_script_never_admits_more_than_the_limit(
    algorithm: Algorithm, redis_server: RedisServer
) -> None:
    args = dict(SLOW)
    if algorithm not in ("token_bucket", "gcra"):
        args["rate"] = 50
    limit = Limit(algorithm, **args)  # type: ignore[arg-type]
    result = hammer(redis_server.port, "atomic", limit, key=f"k-{algorithm}", processes=4,
                    threads=5, requests=100)  # fmt: skip
    assert result.attempted == 2000  # thousands of concurrent requests from several processes
    assert result.admitted <= result.allowed, result
    # It admits what it may: the whole burst is spent, nothing is lost to contention.
    assert result.admitted >= 50


def test_the_naive_read_then_write_limiter_over_admits_and_the_bound_catches_it(
    redis_server: RedisServer,
) -> None:
    limit = Limit("token_bucket", **SLOW)  # type: ignore[arg-type]
    worst = 0
    for attempt in range(5):  # interleavings are the scheduler's; a few tries reach one
        result = hammer(redis_server.port, "naive", limit, key=f"naive-{attempt}", processes=4,
                        threads=4, requests=40)  # fmt: skip
        worst = max(worst, result.over_admitted)
        if worst:
            break
    assert worst > 0, "the race never happened, so this test proved nothing"


def test_the_bound_grows_with_time_only_by_what_the_limit_refills() -> None:
    bucket = Limit("token_bucket", rate=10, period=1.0, burst=5)
    assert allowed_bound(bucket, 0.0) == 5
    assert allowed_bound(bucket, 2.05) == 25
    window = Limit("fixed_window", rate=10, period=1.0)
    assert allowed_bound(window, 0.5) == 20  # a window edge may fall inside the run


def test_without_redis_the_served_memory_store_shows_the_same_difference() -> None:
    import secrets

    from archlab.resilience.memserver import StoreManager

    authkey = secrets.token_bytes(16)
    manager = StoreManager(address=("127.0.0.1", 0), authkey=authkey)
    manager.start()
    try:
        where = ("memory", manager.address, authkey)
        limit = Limit("token_bucket", **SLOW)  # type: ignore[arg-type]
        atomic = hammer(where, "atomic", limit, key="a", processes=3, threads=3, requests=30)
        assert atomic.admitted == 50 <= atomic.allowed
        worst = 0
        for attempt in range(5):
            naive = hammer(where, "naive", limit, key=f"n{attempt}", processes=3, threads=3,
                           requests=30)  # fmt: skip
            worst = max(worst, naive.over_admitted)
            if worst:
                break
        assert worst > 0
    finally:
        manager.shutdown()
