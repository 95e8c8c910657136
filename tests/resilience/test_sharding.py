"""Plain vs shuffle sharding: who shares a poison tenant's workers, against the combinatorics."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from archlab.errors import ConfigError
from archlab.resilience.sharding import (
    PlainSharder,
    ShuffleSharder,
    StatefulShuffleSharder,
    expected_fully_affected,
    expected_overlapping,
    fully_affected,
    max_pairwise_overlap,
)

WORKERS = [f"w{i}" for i in range(8)]


def test_the_combinatorics_match_the_published_examples() -> None:
    assert 1 / expected_fully_affected(8, 2) == 28
    assert 1 / expected_fully_affected(100, 5) == 75_287_520
    assert expected_overlapping(8, 2) == pytest.approx(1 - 15 / 28)


def test_a_shuffle_shard_is_stable_distinct_and_of_the_right_size() -> None:
    sharder = ShuffleSharder(WORKERS, 2, seed=3)
    shard = sharder.shard("tenant-1")
    assert shard == sharder.shard("tenant-1") and len(set(shard)) == 2
    assert ShuffleSharder(WORKERS, 2, seed=4).shard("tenant-1") is not None


def test_shuffle_sharding_spreads_tenants_over_every_combination() -> None:
    sharder = ShuffleSharder(WORKERS, 2, seed=1)
    shards = [sharder.shard(f"t{i}") for i in range(5000)]
    counts = {s: shards.count(s) for s in set(shards)}
    assert len(counts) == 28
    assert max(counts.values()) < 2 * 5000 / 28  # no combination takes twice its share


def test_plain_sharding_cuts_off_a_whole_shard_and_shuffle_only_the_same_combination() -> None:
    tenants = [f"t{i}" for i in range(2800)]
    plain, shuffle = PlainSharder(WORKERS, 2), ShuffleSharder(WORKERS, 2)
    poison = plain.shard("poison")
    assert fully_affected((plain.shard(t) for t in tenants), poison) > 2800 / 4 * 0.8
    poison = shuffle.shard("poison")
    hit = fully_affected((shuffle.shard(t) for t in tenants), poison)
    assert 0 < hit < 2800 / 28 * 2


def test_zone_aware_shards_take_one_worker_per_zone() -> None:
    zones = {w: f"az{i % 3}" for i, w in enumerate([*WORKERS, "w8"])}
    sharder = ShuffleSharder([*WORKERS, "w8"], 3, zones=zones)
    for i in range(200):
        assert len({zones[w] for w in sharder.shard(f"t{i}")}) == 3


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), overlap=st.integers(0, 1))
def test_the_stateful_sharder_never_exceeds_its_overlap(seed: int, overlap: int) -> None:
    sharder = StatefulShuffleSharder([f"w{i}" for i in range(16)], 3, overlap, random.Random(seed))
    for i in range(12):
        try:
            sharder.shard(f"t{i}")
        except ConfigError:
            break
    assert max_pairwise_overlap(sharder.assigned.values()) <= overlap


def test_the_stateful_sharder_says_when_no_shard_fits() -> None:
    sharder = StatefulShuffleSharder(WORKERS, 4, 0, random.Random(0))
    sharder.shard("a")
    sharder.shard("b")
    with pytest.raises(ConfigError, match="no shard of 4"):
        sharder.shard("c", tries=50)


@pytest.mark.parametrize(
    ("args", "match"),
    [((WORKERS, 0), "shard size"), ((WORKERS, 9), "shard size"), ((["a", "a"], 1), "distinct")],
)
def test_bad_sharder_configuration_is_refused(args: tuple[list[str], int], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ShuffleSharder(*args)
    with pytest.raises(ConfigError, match="do not split"):
        PlainSharder(WORKERS, 3)
