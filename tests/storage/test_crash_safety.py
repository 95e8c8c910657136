"""Crash safety: every crash point of a workload reopens to a legal state (codex 4.1–4.2).

The sweeps stop each engine at every mutating file operation of a workload that flushes,
compacts, splits and checkpoints, drop what was not synced (alternately with a torn last
write), reopen and compare with the model. Deliberately broken engines (no log sync, no
directory sync, no redo of checkpoint images) must be caught by the same sweep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archlab.errors import ArchlabError
from archlab.storage import faultfs, open_store, wal
from archlab.storage.btree import tree
from tests.storage.crashsim import run_once, run_twice, workload


def sweep(
    engine: str,
    sync: str = "always",
    compaction: str = "leveled",
    n: int = 100,
    seed: int = 1,
    step: int = 1,
) -> tuple[int, int, list[str]]:
    """Crash at every ``step``-th operation; return (points, crashed runs, failures)."""
    ops = workload(seed, n)
    failures: list[str] = []
    try:
        full = run_once(engine, ops, None, False, sync=sync, compaction=compaction)
    except (ArchlabError, AssertionError) as exc:
        return 0, 0, [f"crash after a clean close: {type(exc).__name__}: {exc}"]
    if full.recovered_prefix != len(ops):
        failures.append("a clean close lost writes")
    crashed = 0
    points = range(0, full.fs_operations, step)
    for point in points:
        torn = point % 2 == 1
        try:
            run = run_once(engine, ops, point, torn, sync=sync, seed=point, compaction=compaction)
        except (ArchlabError, AssertionError, KeyError) as exc:
            failures.append(f"crash at {point} (torn={torn}): {type(exc).__name__}: {exc}")
            continue
        crashed += run.crashed
        if run.recovered_prefix is None:
            failures.append(f"crash at {point} (torn={torn}): not a prefix of the workload")
    return len(points), crashed, failures


@pytest.mark.parametrize(
    ("engine", "compaction"), [("lsm", "leveled"), ("lsm", "tiered"), ("btree", "leveled")]
)
def test_every_crash_point_keeps_acknowledged_writes(engine: str, compaction: str) -> None:
    points, crashed, failures = sweep(engine, "always", compaction)
    assert not failures, "\n".join(failures[:5])
    assert points >= 150, f"only {points} crash points"
    assert crashed == points, "every armed point must actually crash the workload"


@pytest.mark.parametrize("engine", ["lsm", "btree"])
@pytest.mark.parametrize("sync", ["batch", "none"])
def test_relaxed_sync_reopens_to_a_prefix_at_least_as_long_as_the_last_sync(
    engine: str, sync: str
) -> None:
    points, _, failures = sweep(engine, sync, n=80, seed=7, step=2 if engine == "lsm" else 5)
    assert points >= 40
    assert not failures, "\n".join(failures[:5])


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["lsm", "btree"])
@pytest.mark.parametrize("seed", range(5))
def test_long_crash_sweeps(engine: str, seed: int) -> None:
    _, _, failures = sweep(engine, "always", n=300, seed=seed)
    assert not failures, "\n".join(failures[:5])


# ---------------------------------------------------------------- broken variants are caught


def test_sweep_catches_a_log_that_is_not_synced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wal.WriteAheadLog, "commit", lambda self, position: None)
    for engine in ("lsm", "btree"):
        _, _, failures = sweep(engine, step=3)
        assert failures, f"{engine}: an unsynced log must lose acknowledged writes"


def test_sweep_catches_new_files_whose_directory_is_not_synced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = faultfs.FaultFileSystem.sync_dir

    def sync_only_first(self: faultfs.FaultFileSystem, path: str) -> None:
        if not self.durable_names:
            real(self, path)

    monkeypatch.setattr(faultfs.FaultFileSystem, "sync_dir", sync_only_first)
    _, _, failures = sweep("lsm")
    assert failures, "tables and logs whose names never reach the disk must be caught"


def test_sweep_catches_a_btree_that_skips_redoing_checkpoint_images(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def skip_images(self: tree.BTreeStore, payloads: list[bytes], offsets: list[int]) -> int:
        ends = [i for i, p in enumerate(payloads) if p[0] == 5]
        return ends[-1] + 1 if ends else 0

    monkeypatch.setattr(tree.BTreeStore, "_apply_last_checkpoint", skip_images)
    _, _, failures = sweep("btree", step=2)
    assert failures, "a torn in-place checkpoint must be caught without image redo"


# ---------------------------------------------------------------- a real process, SIGKILLed

CHILD = """
import sys
from archlab.storage import open_store
engine, path = sys.argv[1], sys.argv[2]
options = {"memtable_bytes": 64 << 10} if engine == "lsm" else {"frames": 64}
store = open_store(engine, path, sync="always", **options)
i = 0
while True:
    store.put(b"key-%08d" % i, b"value-%08d" % i + bytes(40))
    if i % 7 == 3:
        store.delete(b"key-%08d" % (i - 3))
    print(i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("engine", ["lsm", "btree"])
def test_sigkill_mid_load_loses_no_acknowledged_write(engine: str, tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, engine, str(tmp_path / "db")],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert child.stdout is not None
    acked = -1
    deadline = time.monotonic() + 20
    while acked < 1500 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        acked = int(line)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert acked >= 200, f"the child acknowledged only {acked} writes"
    with open_store(engine, tmp_path / "db", sync="always") as store:
        for i in range(acked + 1):
            value = b"value-%08d" % i + bytes(40)
            got = store.get(b"key-%08d" % i)
            if i % 7 == 0 and i + 3 <= acked:
                assert got is None, f"key {i} was deleted (acknowledged)"
            elif i % 7 == 0 and i + 3 == acked + 1:  # the delete in flight at the kill
                assert got in (None, value)
            else:
                assert got == value, f"key {i} of {acked} acknowledged"
        keys = [k for k, _ in store.scan()]
        assert keys == sorted(keys)


@pytest.mark.parametrize(
    ("engine", "compaction"), [("lsm", "leveled"), ("lsm", "tiered"), ("btree", "leveled")]
)
def test_two_crashes_in_a_row_keep_acknowledged_writes(engine: str, compaction: str) -> None:
    ops = workload(11, 120)
    points = [(a, b) for a in range(0, 200, 9) for b in range(0, 200, 23)]
    bad = [p for p in points if not run_twice(engine, ops, *p, compaction=compaction)]
    assert not bad, f"crash pairs {bad[:5]} left an illegal state"
