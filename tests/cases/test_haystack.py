"""Haystack (10.4): needles, the index, volumes (recovery, delete, compaction), HTTP, judge."""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from archlab.cases.haystack import needle as nd, probe
from archlab.cases.haystack.experiments import HaystackReadsMeasurement, judge_haystack_reads
from archlab.cases.haystack.filestore import FilePerPhotoStore
from archlab.cases.haystack.index import NeedleIndex
from archlab.cases.haystack.server import HaystackServer
from archlab.cases.haystack.volume import Volume


def test_a_needle_round_trips_and_any_flipped_byte_is_caught() -> None:
    item = nd.Needle(cookie=7, key=2**63 + 5, alt_key=3, flags=0, data=b"jpeg" * 100)
    blob = nd.encode(item)
    assert len(blob) % 8 == 0 and len(blob) == nd.padded_length(400)
    assert nd.parse(blob) == item
    for position in (0, 10, nd.HEADER.size + 5, nd.HEADER.size + 401):
        broken = bytearray(blob)
        broken[position] ^= 0x40
        with pytest.raises(nd.NeedleError):
            nd.parse(bytes(broken))
    with pytest.raises(nd.NeedleError):
        nd.parse(blob[:-12])


def test_the_index_puts_removes_and_grows_past_its_capacity() -> None:
    index = NeedleIndex(16)
    for i in range(5000):
        index.put(i * 7919, i % 3, i * 8, i)
    assert index.bytes_per_entry < 40
    for i in range(0, 5000, 2):
        assert index.remove(i * 7919, i % 3)
    assert len(index) == 2500
    assert index.get(7919, 1) == (8, 1) and index.get(0, 0) is None
    assert index.get(7919, 2) is None, "the alternate key is part of the identity"
    with pytest.raises(ValueError):
        index.put(1, 1, 12, 5)  # offsets are 8-byte aligned


def test_a_volume_reads_checks_the_cookie_deletes_and_survives_a_restart(tmp_path: Path) -> None:
    with Volume(tmp_path, index_batch=3) as volume:
        for key in range(10):
            volume.put(key, 0, 1000 + key, f"photo {key}".encode())
        assert volume.get(4, 0, 1004) == b"photo 4"
        assert volume.get(4, 0, 9999) is None, "a wrong cookie gets nothing"
        assert volume.delete(4, 0, 1004) and volume.get(4, 0, 1004) is None
        volume.put(5, 0, 2005, b"photo 5, again")
    with Volume(tmp_path) as volume:
        assert volume.recovery.torn_bytes_cut == 0
        assert volume.get(5, 0, 2005) == b"photo 5, again"
        assert volume.get(4, 0, 1004) is None, "the deleted flag is on disk"
        assert len(volume.index) == 9


def test_the_index_is_rebuilt_from_the_volume_when_the_index_file_lags(tmp_path: Path) -> None:
    with Volume(tmp_path, index_batch=4) as volume:
        for key in range(10):
            volume.put(key, 1, key, bytes([key]) * 50)
    (tmp_path / "volume.idx").write_bytes((tmp_path / "volume.idx").read_bytes()[:100])
    with Volume(tmp_path) as volume:
        assert volume.recovery.from_index_file == 4
        assert volume.recovery.from_volume_scan == 6
        assert all(volume.get(key, 1, key) == bytes([key]) * 50 for key in range(10))
    with Volume(tmp_path) as volume:
        assert volume.recovery.from_index_file == 10, "the scan's findings were checkpointed"


def test_a_torn_needle_at_the_tail_is_cut_on_restart(tmp_path: Path) -> None:
    with Volume(tmp_path) as volume:
        volume.put(1, 0, 11, b"a" * 300)
        volume.put(2, 0, 22, b"b" * 300)
        end = volume.size_bytes
    with open(tmp_path / "volume.dat", "r+b") as f:
        f.truncate(end - 100)  # the second needle only half written
    (tmp_path / "volume.idx").unlink()
    with Volume(tmp_path) as volume:
        assert volume.recovery.torn_bytes_cut > 0
        assert volume.get(1, 0, 11) == b"a" * 300 and volume.get(2, 0, 22) is None
        volume.put(3, 0, 33, b"c")
    with Volume(tmp_path) as volume:
        assert volume.get(3, 0, 33) == b"c"


def test_compaction_keeps_live_photos_and_gives_back_the_rest(tmp_path: Path) -> None:
    with Volume(tmp_path) as volume:
        for key in range(20):
            volume.put(key, 0, key, b"x" * 1000)
        for key in range(0, 20, 2):
            volume.delete(key, 0, key)
        volume.put(1, 0, 1, b"y" * 1000)  # overwritten: the old needle is garbage too
        freed = volume.compact()
        assert freed >= 11 * 1000
        assert volume.get(1, 0, 1) == b"y" * 1000 and volume.get(2, 0, 2) is None
    with Volume(tmp_path) as volume:
        assert len(volume.index) == 10 and volume.get(3, 0, 3) == b"x" * 1000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[HaystackServer]:
    srv = HaystackServer(tmp_path)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def _call(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_http_api_puts_gets_and_deletes_with_the_cookie(server: HaystackServer) -> None:
    status, body = _call(f"{server.url}/photo/42/1", "PUT", b"\xff\xd8 a jpeg")
    assert status == 201
    url = json.loads(body)["url"]
    assert _call(server.url + url) == (200, b"\xff\xd8 a jpeg")
    wrong = url[:-16] + ("0" * 16 if not url.endswith("0" * 16) else "1" * 16)
    assert _call(server.url + wrong)[0] == 404, "a guessed cookie is a 404"
    assert _call(f"{server.url}/photo/42/1")[0] == 400
    assert _call(f"{server.url}/photo/x/1/{'0' * 16}")[0] == 400
    assert _call(server.url + wrong, "DELETE")[0] == 404
    assert _call(server.url + url, "DELETE")[0] == 204
    assert _call(server.url + url)[0] == 404


@pytest.mark.skipif(not probe.strace_available(), reason="strace is not installed")
def test_strace_counts_one_call_per_volume_get_and_more_per_file(tmp_path: Path) -> None:
    files = FilePerPhotoStore(tmp_path / "files")
    keys = []
    with Volume(tmp_path / "hay") as volume:
        for key in range(30):
            volume.put(key, 0, key + 1, os.urandom(2000))
            files.put(key, 0, b"z" * 2000)
            keys.append((key, 0, key + 1))
    assert probe.count_syscalls("haystack", tmp_path / "hay", keys) == 1.0
    assert probe.count_syscalls("files", tmp_path / "files", keys) >= 3.0


def _m(
    hay_disk: float | None, file_disk: float | None, hay_calls: float = 1.0
) -> HaystackReadsMeasurement:
    return HaystackReadsMeasurement(
        photos=3000,
        haystack_syscalls_per_get=hay_calls,
        files_syscalls_per_get=None if hay_calls is None else 4.0,
        cold_caches=hay_disk is not None,
        haystack_disk_reads_per_get=hay_disk,
        files_disk_reads_per_get=file_disk,
        haystack_cold_ms_per_get=None,
        files_cold_ms_per_get=None,
        index_bytes_per_photo=27.3,
        inode_bytes_per_photo=1320.0,
        inode_source="slabinfo",
    )


@pytest.mark.parametrize(
    ("measured", "verdict"),
    [
        (_m(1.06, 2.31), "holds"),  # this machine, quick profile, as root
        (_m(1.06, 1.4), "nuanced"),  # metadata cached: the file store needs ~1.4 reads
        (_m(None, None), "nuanced"),  # not root: disk reads unmeasured
        (_m(None, None, hay_calls=None), "nuanced"),  # no strace
        (_m(2.2, 2.1), "refuted"),  # the volume's index on disk: no saving
        (_m(None, None, hay_calls=4.0), "refuted"),
    ],
)
def test_the_judge_reaches_each_verdict(measured: HaystackReadsMeasurement, verdict: str) -> None:
    judgement = judge_haystack_reads(measured)
    assert judgement.verdict == verdict, judgement.reason
    assert all(e.threshold is not None and e.threshold.source for e in judgement.evidence)
