"""Each storage experiment's judge gives every verdict it can, from hand-made measurements."""

from __future__ import annotations

from archlab.storage import experiments as ex


def height_values(heights: list[float], exact: bool, bound: float) -> dict[str, object]:
    values: dict[str, object] = {
        "sizes": len(heights),
        "n_growth": 1000.0,
        "height_bound": bound,
        "fanout": 100.0,
    }
    for i, h in enumerate(heights):
        values[f"height_{i}"] = h
        values[f"reads_equal_height_{i}"] = int(exact)
    return values


def test_btree_height_judge() -> None:
    assert ex.judge_btree_height(height_values([2, 3, 4], True, 4)).verdict == "holds"  # type: ignore[arg-type]
    assert ex.judge_btree_height(height_values([2, 3, 7], True, 4)).verdict == "refuted"  # type: ignore[arg-type]
    assert ex.judge_btree_height(height_values([2, 3, 4], False, 4)).verdict == "refuted"  # type: ignore[arg-type]
    assert ex.judge_btree_height(height_values([3, 3, 3], True, 3)).verdict == "nuanced"  # type: ignore[arg-type]


def test_uuid_keys_judge() -> None:
    base = {
        "fill_uuid4": 0.69,
        "fill_time_ordered": 0.9,
        "file_ratio": 1.3,
        "split_ratio": 1.3,
        "throughput_ratio": 3.0,
    }
    assert ex.judge_uuid_keys(base).verdict == "holds"
    assert ex.judge_uuid_keys({**base, "throughput_ratio": 1.1}).verdict == "nuanced"
    flat = {**base, "fill_uuid4": 0.9, "file_ratio": 1.0, "throughput_ratio": 1.0}
    assert ex.judge_uuid_keys(flat).verdict == "refuted"
    assert "ln 2" in ex.judge_uuid_keys(base).reason


def test_lsm_vs_btree_judge() -> None:
    base = {
        "throughput_ratio": 5.0,
        "lsm_sequential_share": 1.0,
        "btree_sequential_share": 0.5,
        "bytes_ratio": 0.1,
    }
    assert ex.judge_lsm_vs_btree(base).verdict == "holds"
    assert ex.judge_lsm_vs_btree({**base, "throughput_ratio": 1.2}).verdict == "nuanced"
    worse = {**base, "throughput_ratio": 0.8, "lsm_sequential_share": 0.4}
    assert ex.judge_lsm_vs_btree(worse).verdict == "refuted"


def test_bloom_judge() -> None:
    base = {"probes_with": 0.01, "probes_without": 4.0, "latency_ratio": 3.0, "worst_fp_error": 0.1}
    assert ex.judge_bloom(base).verdict == "holds"
    assert ex.judge_bloom({**base, "worst_fp_error": 0.5}).verdict == "nuanced"
    assert ex.judge_bloom({**base, "probes_with": 3.9}).verdict == "refuted"


def compaction_values(leveled_better: bool) -> dict[str, object]:
    values: dict[str, object] = {
        "size_ratio": 4,
        "uniform_wa_per_level_leveled": 2.5,
        "uniform_wa_per_level_tiered": 1.0,
    }
    for dist in ("uniform", "skewed"):
        expected_leveled, expected_tiered = (5.0, 3.0, 1.2), (2.0, 6.0, 2.2)
        lev, tier = (
            (expected_leveled, expected_tiered)
            if leveled_better
            else (expected_tiered, expected_leveled)
        )
        for style, (w, r, s) in (("leveled", lev), ("tiered", tier)):
            values[f"{dist}_wa_{style}"] = w
            values[f"{dist}_runs_{style}"] = r
            values[f"{dist}_sa_{style}"] = s
    return values


def test_compaction_judge() -> None:
    assert ex.judge_compaction(compaction_values(True)).verdict == "holds"  # type: ignore[arg-type]
    assert ex.judge_compaction(compaction_values(False)).verdict == "refuted"  # type: ignore[arg-type]
    mixed = compaction_values(True)
    mixed["uniform_sa_leveled"] = 3.0
    assert ex.judge_compaction(mixed).verdict == "nuanced"  # type: ignore[arg-type]
    assert "rule of thumb" in ex.judge_compaction(mixed).reason  # type: ignore[arg-type]
    low = compaction_values(True)
    low["uniform_wa_per_level_leveled"] = 0.5
    judged = ex.judge_compaction(low)  # type: ignore[arg-type]
    assert judged.verdict == "nuanced" and "far less than T" in judged.reason


def test_write_stall_judge() -> None:
    base = {
        "stall_fraction_fast": 0.4,
        "stall_fraction_throttled": 0.0,
        "stalled_window_ratio": 0.1,
    }
    assert ex.judge_write_stall(base).verdict == "holds"
    assert ex.judge_write_stall({**base, "stall_fraction_throttled": 0.3}).verdict == "nuanced"
    assert ex.judge_write_stall({**base, "stall_fraction_fast": 0.0}).verdict == "refuted"
