"""Corrupted or truncated files raise CorruptionError naming file and offset; never wrong data."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from archlab.errors import ArchlabError, CorruptionError
from archlab.storage import open_store
from archlab.storage.faultfs import FaultFileSystem
from archlab.storage.records import frame, read_records
from tests.storage.crashsim import small_options

KEYS = [b"key-%04d" % i for i in range(300)]


def value_of(key: bytes) -> bytes:
    return key * 3


def filled(engine: str) -> FaultFileSystem:
    fs = FaultFileSystem()
    with open_store(engine, "/db", sync="none", fs=fs, **small_options(engine)) as store:
        for key in KEYS:
            store.put(key, value_of(key))
        if engine == "lsm":
            store.flush()  # type: ignore[attr-defined]
    return fs


def read_everything(engine: str, fs: FaultFileSystem) -> None:
    """Open and read every key and a full scan; wrong data fails the test."""
    with open_store(engine, "/db", sync="none", fs=fs, **small_options(engine)) as store:
        for key in KEYS:
            got = store.get(key)
            assert got == value_of(key), f"wrong data for {key!r}: {got!r}"
        assert [k for k, _ in store.scan()] == KEYS


@pytest.mark.parametrize("engine", ["lsm", "btree"])
def test_every_flipped_byte_is_detected_or_harmless(engine: str) -> None:
    fs = filled(engine)
    data_files = [f for f in fs.files() if f.endswith((".sst", ".db"))]
    assert data_files
    rng = random.Random(3)
    detected = 0
    trials = 0
    for name in data_files:
        original = fs.read_file(name)
        for offset in rng.sample(range(len(original)), min(25, len(original))):
            corrupt = bytearray(original)
            corrupt[offset] ^= 1 << rng.randrange(8)
            fs.write_file(name, bytes(corrupt))
            trials += 1
            try:
                read_everything(engine, fs)
            except CorruptionError as exc:
                detected += 1
                assert exc.path == name
                assert exc.offset is not None and 0 <= exc.offset < len(original)
            fs.write_file(name, original)
    # a flip in zero padding of a B+-tree page is covered by the page CRC too
    assert detected == trials, f"{trials - detected} of {trials} flips went unnoticed"


@pytest.mark.parametrize("engine", ["lsm", "btree"])
def test_truncated_data_file_is_reported(engine: str) -> None:
    fs = filled(engine)
    name = next(f for f in fs.files() if f.endswith((".sst", ".db")))
    data = fs.read_file(name)
    fs.write_file(name, data[: len(data) // 2])
    with pytest.raises(CorruptionError) as info:
        read_everything(engine, fs)
    assert name in str(info.value)


def test_corrupted_sstable_block_names_file_and_offset_in_message() -> None:
    fs = filled("lsm")
    name = next(f for f in fs.files() if f.endswith(".sst"))
    data = bytearray(fs.read_file(name))
    data[10] ^= 0xFF
    fs.write_file(name, bytes(data))
    with pytest.raises(CorruptionError, match=r"at offset 0: block fails its checksum"):
        read_everything("lsm", fs)


def test_torn_log_tail_is_dropped_but_damage_in_the_middle_is_reported() -> None:
    records = [frame(b"record %d" % i) for i in range(10)]
    log = b"".join(records)
    torn = log + records[0][:7]
    assert len(read_records(torn, "wal").payloads) == 10
    assert read_records(torn, "wal").torn_bytes == 7
    middle = bytearray(log)
    middle[len(records[0]) + 14] ^= 0x40
    with pytest.raises(CorruptionError) as info:
        read_records(bytes(middle), "wal")
    assert info.value.offset == len(records[0])


@pytest.mark.parametrize("engine", ["lsm", "btree"])
def test_corrupted_log_in_the_middle_refuses_to_open(engine: str) -> None:
    fs = FaultFileSystem()
    options = small_options(engine)
    options.update({"memtable_bytes": 1 << 20} if engine == "lsm" else {"frames": 4096})
    store = open_store(engine, "/db", sync="always", fs=fs, **options)
    for key in KEYS[:50]:
        store.put(key, value_of(key))
    log = next(f for f in fs.files() if f.endswith(".log"))
    data = bytearray(fs.read_file(log))
    data[len(data) // 2] ^= 0x01
    fs.write_file(log, bytes(data))
    fs.crash()
    with pytest.raises(CorruptionError) as info:
        open_store(engine, "/db", sync="always", fs=fs, **options)
    assert info.value.path == log


def test_corruption_is_a_one_line_archlab_error(tmp_path: Path) -> None:
    with open_store("btree", tmp_path, sync="none") as store:
        store.put(b"k", b"v")
    data = tmp_path / "data.db"
    raw = bytearray(data.read_bytes())
    raw[4096 + 20] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(ArchlabError) as info, open_store("btree", tmp_path) as reopened:
        reopened.get(b"k")
    message = str(info.value)
    assert "\n" not in message
    assert str(data) in message and "offset 4096" in message
