"""Both engines behave as one ordered map: model-based tests, snapshots, limits, bad input."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from archlab.errors import ConfigError, UnknownNameError
from archlab.storage import MAX_KEY, MAX_VALUE, Store, StoreLimitError, open_store
from archlab.storage.api import StoreClosedError
from archlab.storage.faultfs import FaultFileSystem
from tests.storage.crashsim import small_options

ENGINES = ["lsm", "btree"]
keys = st.binary(min_size=1, max_size=12)
values = st.binary(max_size=40)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), keys, values),
        st.tuples(st.just("delete"), keys, st.just(b"")),
        st.tuples(st.just("reopen"), st.just(b""), st.just(b"")),
        st.tuples(st.just("scan"), keys, keys),
    ),
    max_size=120,
)


def _open(engine: str, fs: FaultFileSystem, compaction: str = "leveled") -> Store:
    return open_store(engine, "/db", sync="batch", fs=fs, **small_options(engine, compaction))


@pytest.mark.parametrize(
    ("engine", "compaction"), [*((e, "leveled") for e in ENGINES), ("lsm", "tiered")]
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_behaves_like_a_sorted_dict(
    engine: str, compaction: str, ops: list[tuple[str, bytes, bytes]]
) -> None:
    fs = FaultFileSystem()
    store = _open(engine, fs, compaction)
    model: dict[bytes, bytes] = {}
    for kind, a, b in ops:
        if kind == "put":
            store.put(a, b)
            model[a] = b
        elif kind == "delete":
            store.delete(a)
            model.pop(a, None)
        elif kind == "reopen":
            store.close()
            store = _open(engine, fs, compaction)
        else:
            lo, hi = min(a, b), max(a, b)
            expected = sorted((k, v) for k, v in model.items() if lo <= k < hi)
            assert list(store.scan(lo, hi)) == expected
    for key, value in model.items():
        assert store.get(key) == value
    assert list(store.scan()) == sorted(model.items())
    store.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_scan_sees_one_snapshot_while_writes_go_on(engine: str) -> None:
    fs = FaultFileSystem()
    with _open(engine, fs) as store:
        for i in range(200):
            store.put(b"k%04d" % i, b"old")
        before = list(store.scan())
        scan = store.scan()
        first = [next(scan) for _ in range(10)]
        for i in range(0, 300, 3):  # overwrite, insert after the cursor, delete behind it
            store.put(b"k%04d" % i, b"new")
        for i in range(1, 200, 5):
            store.delete(b"k%04d" % i)
        rest = list(scan)
        assert first + rest == before
        assert store.get(b"k0003") == b"new" and store.get(b"k0001") is None


@pytest.mark.parametrize("engine", ENGINES)
def test_limits_and_types_are_clear_errors(engine: str, tmp_path: Path) -> None:
    with open_store(engine, tmp_path, sync="none") as store:
        with pytest.raises(StoreLimitError, match="1 to 1024 bytes"):
            store.put(b"", b"v")
        with pytest.raises(StoreLimitError, match="key of 1025 bytes"):
            store.put(b"k" * (MAX_KEY + 1), b"v")
        with pytest.raises(StoreLimitError, match="values are at most"):
            store.put(b"k", b"v" * (MAX_VALUE + 1))
        with pytest.raises(StoreLimitError, match="keys are bytes, got str"):
            store.put("k", b"v")  # type: ignore[arg-type]
        with pytest.raises(StoreLimitError, match="values are bytes, got int"):
            store.put(b"k", 3)  # type: ignore[arg-type]
        store.put(bytearray(b"ba"), memoryview(b"mv"))  # type: ignore[arg-type]
        assert store.get(b"ba") == b"mv"
    with pytest.raises(StoreClosedError):
        store.put(b"k", b"v")


def test_btree_entry_limit_follows_the_page_size(tmp_path: Path) -> None:
    with open_store("btree", tmp_path, page_size=1024) as store:
        with pytest.raises(StoreLimitError, match="at most 245 bytes"):
            store.put(b"k", bytes(245))
        store.put(b"k", bytes(244))
        for i in range(200):  # pages full of the largest entries still split
            store.put(b"k%03d" % i, bytes(241))
        assert store.get(b"k") == bytes(244)
        assert store.check() == 201  # type: ignore[attr-defined]


def test_lsm_takes_values_up_to_the_limit(tmp_path: Path) -> None:
    with open_store("lsm", tmp_path, memtable_bytes=1 << 16) as store:
        store.put(b"big", bytes(MAX_VALUE))
        store.put(b"k" * MAX_KEY, b"")
        store.flush()  # type: ignore[attr-defined]
        assert store.get(b"big") == bytes(MAX_VALUE)
        assert store.get(b"k" * MAX_KEY) == b""


def test_bad_engine_sync_and_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'lsm'"):
        open_store("lsn", tmp_path)
    with pytest.raises(ConfigError, match="sync='sometimes'"):
        open_store("lsm", tmp_path, sync="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unexpected keyword argument 'fanout'"):
        open_store("lsm", tmp_path / "a", fanout=3)
    with pytest.raises(ConfigError, match="policy 'fifo'"):
        open_store("btree", tmp_path / "b", replacement="fifo")
    with pytest.raises(ConfigError, match="leveled or tiered"):
        open_store("lsm", tmp_path / "c", compaction="universal")


def test_lsm_background_compaction_is_correct_under_concurrent_writers(tmp_path: Path) -> None:
    store = open_store(
        "lsm",
        tmp_path,
        sync="none",
        memtable_bytes=8 << 10,
        table_bytes=8 << 10,
        background=True,
    )
    errors: list[BaseException] = []

    def writer(tid: int) -> None:
        try:
            for i in range(1500):
                store.put(b"t%d-%05d" % (tid, i % 700), b"%d" % i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    for i in range(300):
        store.put(b"stable-%04d" % i, b"here")

    def reader() -> None:
        try:
            for _ in range(20):
                pairs = list(store.scan(b"t0-", b"t0-\xff"))
                assert [k for k, _ in pairs] == sorted(k for k, _ in pairs)
                for i in range(0, 300, 7):  # through every flush and compaction
                    assert store.get(b"stable-%04d" % i) == b"here"
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(3)]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    store.wait_idle()  # type: ignore[attr-defined]
    expected = {b"t%d-%05d" % (t, i % 700): b"%d" % i for t in range(3) for i in range(1500)}
    expected.update({b"stable-%04d" % i: b"here" for i in range(300)})
    assert dict(store.scan()) == expected
    assert store.stats()["compactions"] > 0
    store.close()
    with open_store("lsm", tmp_path, sync="none") as reopened:
        assert dict(reopened.scan()) == expected


@pytest.mark.parametrize("engine", ENGINES)
def test_both_engines_implement_the_store_protocol(engine: str, tmp_path: Path) -> None:
    with open_store(engine, tmp_path) as store:
        assert isinstance(store, Store)
        stats = store.stats()
        assert stats["engine"] == engine and "write_amplification" in stats
