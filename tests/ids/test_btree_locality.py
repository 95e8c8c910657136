"""IDs as B+-tree keys (6.2): keys keep their scheme's order; the judge reads the ratios."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from archlab.ids.btree_locality import WIDTH, id_keys, insert_ids
from archlab.ids.measure_btree_locality import (
    BTreeLocalityMeasurement,
    SchemeIndex,
    judge_btree_locality,
)
from archlab.ids.measure_k_ordering import KINDS


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


def index(
    fill: float, file_kib: float, page_writes: int, rate: float, width: int = 16
) -> SchemeIndex:
    return SchemeIndex(width, 20.0, fill, file_kib, page_writes, rate)


#: The quick profile's tree (seed 0): 15,000 IDs from 8 machines at ±10 ms skew.
MEASURED = {
    "snowflake": index(0.577, 1188.0, 340, 134_827.0, 8),
    "ulid": index(0.612, 1312.0, 381, 155_299.0),
    "uuid7": index(0.578, 1392.0, 401, 97_778.0),
    "ksuid": index(0.694, 1248.0, 4242, 11_224.0, 20),
    "uuid4": index(0.696, 1160.0, 13_221, 2_061.0),
}
CONTROL = index(0.889, 768.0, 218, 78_060.0, 8)
#: What the claim expects: time-ordered leaves ~90% full, UUIDv4 at ln 2 and 1.3x the file.
PACKED = {k: index(0.9, 900.0, 300, 100_000.0) for k in ("snowflake", "ulid", "uuid7", "ksuid")}
PACKED["uuid4"] = index(0.69, 1170.0, 9000, 5_000.0)


def judge(schemes: dict[str, SchemeIndex], control: SchemeIndex = CONTROL) -> str:
    return judge_btree_locality(BTreeLocalityMeasurement(15_000, 2000.0, schemes, control)).verdict


def test_the_measured_tree_is_nuanced() -> None:
    """Random keys cost far more, but skewed time-ordered keys did not pack the leaves."""
    judgement = judge_btree_locality(BTreeLocalityMeasurement(15_000, 2000.0, MEASURED, CONTROL))
    assert judgement.verdict == "nuanced"
    assert "control" in judgement.reason and "89%" in judgement.reason


def test_the_claimed_tree_holds() -> None:
    assert judge(PACKED) == "holds"


def test_every_time_ordered_scheme_is_held_to_the_claim() -> None:
    """KSUID scattering as much as UUIDv4 breaks the cost half even if the others are cheap."""
    scattered = dict(PACKED, ksuid=index(0.9, 900.0, 8800, 4_800.0, 20))
    judgement = judge_btree_locality(BTreeLocalityMeasurement(15_000, 2000.0, scattered, CONTROL))
    assert judgement.verdict == "nuanced"
    assert "KSUID" in judgement.evidence[0].name and judgement.evidence[0].met is False


def test_neither_half_is_refuted() -> None:
    flat = dict(MEASURED, uuid4=index(0.696, 1160.0, 420, 100_000.0))
    assert judge(flat) == "refuted"


def test_a_failed_control_keeps_the_layout_from_holding() -> None:
    judgement = judge_btree_locality(
        BTreeLocalityMeasurement(15_000, 2000.0, PACKED, index(0.6, 1100.0, 400, 50_000.0, 8))
    )
    assert judgement.verdict == "nuanced"
    assert judgement.evidence[-1].met is False
