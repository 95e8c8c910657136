"""storage.uuid_keys: keys come from archlab.ids; the judge gives each verdict."""

from __future__ import annotations

import random
import uuid

import pytest

from archlab.ids import Ulid
from archlab.storage.measure_uuid_keys import KeyRun, UuidKeys, generate, judge_uuid_keys
from tests.storage.judges import cites_its_thresholds


def test_keys_are_real_ids_in_issue_order() -> None:
    v7 = generate("uuid7", 500, random.Random(1), ids_per_ms=50)
    assert all(uuid.UUID(bytes=k).version == 7 for k in v7)
    assert v7 == sorted(v7) and len(set(v7)) == 500
    ulids = generate("ulid", 500, random.Random(1), ids_per_ms=50)
    assert ulids == sorted(ulids)
    assert Ulid.from_bytes16(ulids[-1]).timestamp_ms - Ulid.from_bytes16(ulids[0]).timestamp_ms == 9
    v4 = generate("uuid4", 500, random.Random(1), ids_per_ms=50)
    assert all(uuid.UUID(bytes=k).version == 4 for k in v4) and v4 != sorted(v4)
    assert generate("uuid4", 5, random.Random(2), 50) == generate("uuid4", 5, random.Random(2), 50)


def run(rate: float, fill: float, file_bytes: int) -> KeyRun:
    return KeyRun(rate, 0.9 * rate, 1.1 * rate, fill, file_bytes, 100, 1000, 2000)


def measurement(v4: KeyRun, time_ordered: KeyRun) -> UuidKeys:
    return UuidKeys(
        keys=12000,
        tree_over_pool=6.0,
        runs={"uuid4": v4, "uuid7": time_ordered, "ulid": time_ordered},
    )


# The quick profile as measured (seed 0): 68% vs 90% full, file 1.32x, inserts ~10x.
MEASURED_V4 = run(4000.0, 0.677, 2_400_000)
MEASURED_V7 = run(42000.0, 0.896, 1_820_000)


@pytest.mark.parametrize(
    ("v4", "v7", "verdict"),
    [
        (MEASURED_V4, MEASURED_V7, "holds"),
        # the tree fits in memory: fragmented, but inserts no faster with time-ordered keys
        (MEASURED_V4, run(4400.0, 0.896, 1_820_000), "nuanced"),
        # an engine that splits every page 50/50: time-ordered keys pack no better
        (run(40000.0, 0.69, 1_800_000), run(40500.0, 0.5, 2_480_000), "refuted"),
    ],
)
def test_the_judge_reaches_each_verdict(v4: KeyRun, v7: KeyRun, verdict: str) -> None:
    judgement = judge_uuid_keys(measurement(v4, v7))
    assert judgement.verdict == verdict
    assert cites_its_thresholds(judgement)


def test_a_time_ordered_kind_that_disagrees_is_not_left_out() -> None:
    m = UuidKeys(
        12000,
        6.0,
        {"uuid4": MEASURED_V4, "uuid7": MEASURED_V7, "ulid": run(4100.0, 0.7, 2_390_000)},
    )
    judgement = judge_uuid_keys(m)
    assert judgement.verdict == "refuted" and "ulid 70%" in judgement.reason
