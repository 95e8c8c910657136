"""IDs as B+-tree keys (6.2): keys keep their scheme's order; the judge reads the ratios."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from archlab.ids.btree_locality import WIDTH, id_keys, insert_ids
from archlab.ids.experiments import KINDS, judge_btree_locality


@pytest.mark.parametrize("kind", KINDS)
def test_keys_have_the_schemes_width_and_sort_like_its_ids(kind: str) -> None:
    keys = id_keys(
        kind, 300, machines=1, rate_per_s=1000.0, skew_ms=0.0, rng=random.Random(3), delay_ms=0.0
    )
    assert {len(k) for k in keys} == {WIDTH[kind]}
    assert len(set(keys)) == 300
    # One machine, no skew or delay: in order; KSUIDs only by their whole-second prefix.
    if kind == "ksuid":
        assert [k[:4] for k in keys] == sorted(k[:4] for k in keys)
    elif kind != "uuid4":
        assert keys == sorted(keys)


def test_ordered_inserts_pack_leaves_and_random_ones_do_not(tmp_path: Path) -> None:
    ordered = id_keys(
        "uuid7", 4000, machines=1, rate_per_s=1000.0, skew_ms=0.0, rng=random.Random(1)
    )
    scattered = id_keys(
        "uuid4", 4000, machines=1, rate_per_s=1000.0, skew_ms=0.0, rng=random.Random(1)
    )
    packed = insert_ids("uuid7", ordered, tmp_path / "a", frames=32, value_size=32)
    loose = insert_ids("uuid4", scattered, tmp_path / "b", frames=32, value_size=32)
    assert packed.avg_leaf_fill > 0.75 > loose.avg_leaf_fill
    assert loose.page_writes > packed.page_writes
    assert not (tmp_path / "a").exists()


def values(**changes: float) -> dict[str, float]:
    base = {f"fill_{k}": 0.9 for k in KINDS} | {
        "fill_uuid4": 0.69,
        "fill_control": 0.9,
        "page_write_ratio_uuid4": 30.0,
        "insert_ratio_uuid4": 10.0,
        "file_ratio_uuid4": 1.3,
        "rate_per_s": 2000.0,
    }
    return base | changes


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        ({}, "holds"),
        ({"fill_ulid": 0.6, "file_ratio_uuid4": 0.98}, "nuanced"),
        ({"page_write_ratio_uuid4": 1.1}, "refuted"),
        ({"insert_ratio_uuid4": 1.0}, "refuted"),
    ],
)
def test_the_judge_reaches_each_verdict(changes: dict[str, float], verdict: str) -> None:
    assert judge_btree_locality(values(**changes)).verdict == verdict
