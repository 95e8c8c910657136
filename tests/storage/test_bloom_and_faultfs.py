"""The Bloom filter's error rate against theory, and the fault-injecting file layer's model."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from archlab.storage.bloom import BloomFilter, optimal_hashes, theoretical_fp_rate
from archlab.storage.faultfs import FaultFileSystem, SimulatedCrash


@settings(max_examples=50, deadline=None)
@given(st.sets(st.binary(min_size=1, max_size=20), max_size=300), st.floats(1, 16))
def test_no_false_negatives(keys: set[bytes], bits: float) -> None:
    bloom = BloomFilter.decode(BloomFilter.build(keys, len(keys), bits).encode())
    assert all(bloom.may_contain(k) for k in keys)


@pytest.mark.parametrize("bits", [4, 8, 10, 14])
def test_false_positive_rate_matches_theory(bits: int) -> None:
    n = 20000
    bloom = BloomFilter.build((b"in-%d" % i for i in range(n)), n, bits)
    trials = 40000
    fp = sum(bloom.may_contain(b"out-%d" % i) for i in range(trials)) / trials
    theory = theoretical_fp_rate(bits)
    assert abs(fp - theory) < 0.25 * theory + 0.001, (fp, theory)
    assert optimal_hashes(10) == 7 and abs(theoretical_fp_rate(10) - 0.0082) < 0.0003


def test_unsynced_writes_and_unsynced_names_are_lost() -> None:
    fs = FaultFileSystem()
    fs.makedirs("/d")
    a = fs.open("/d/a")
    a.append(b"durable")
    a.sync()
    fs.sync_dir("/d")
    a.append(b"-lost")
    b = fs.open("/d/b")
    b.append(b"file never named durably")
    b.sync()
    fs.crash()
    assert fs.read_file("/d/a") == b"durable"
    assert not fs.exists("/d/b")
    with pytest.raises(OSError, match="before a crash"):
        a.append(b"x")


def test_rename_and_remove_take_effect_durably_only_after_a_directory_sync() -> None:
    fs = FaultFileSystem()
    f = fs.open("/d/x")
    f.append(b"1")
    f.sync()
    fs.sync_dir("/d")
    fs.rename("/d/x", "/d/y")
    fs.crash()
    assert fs.files() == ["/d/x"]
    fs.rename("/d/x", "/d/y")
    fs.sync_dir("/d")
    fs.remove("/d/y")
    fs.crash()
    assert fs.files() == ["/d/y"]


def test_torn_crash_keeps_a_prefix_of_pending_writes() -> None:
    seen = set()
    for seed in range(40):
        fs = FaultFileSystem(seed)
        f = fs.open("/d/log")
        fs.sync_dir("/d")
        f.sync()
        for chunk in (b"aaaa", b"bbbb", b"cccc"):
            f.append(chunk)
        fs.crash(torn=True)
        data = fs.read_file("/d/log")
        assert b"aaaabbbbcccc".startswith(data)
        seen.add(len(data))
    assert len(seen) >= 6, "torn crashes should cut at many places"


def test_armed_crash_point_stops_the_nth_operation() -> None:
    fs = FaultFileSystem()
    f = fs.open("/d/f")
    fs.arm(2)
    f.append(b"1")
    f.append(b"2")
    with pytest.raises(SimulatedCrash):
        f.append(b"3")
    assert fs.read_file("/d/f") == b"12"
