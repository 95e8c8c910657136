"""Crash-point sweeps: run a workload on the fault-injecting file layer, crash, reopen, check.

A workload is a list of operations; ``states[i]`` is the model (a dict) after the first ``i``.
After a crash the reopened store must equal one of the states it may legally be in: every
acknowledged write is there under ``sync="always"`` (the operation in flight may or may not
be), and under ``batch``/``none`` the store holds some prefix at least as long as the last
explicit ``sync()``. Never a state that is not a prefix: that would be an inconsistent store.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from archlab.storage import open_store
from archlab.storage.faultfs import FaultFileSystem, SimulatedCrash

Op = tuple[str, bytes, bytes]

LSM_SMALL: dict[str, Any] = {
    "background": False,
    "memtable_bytes": 1500,
    "table_bytes": 1024,
    "block_bytes": 256,
    "l0_trigger": 2,
    "l0_slowdown": 2,
    "l0_stop": 2,
    "level_base_bytes": 2048,
    "size_ratio": 2,
}
BTREE_SMALL: dict[str, Any] = {"page_size": 512, "frames": 16, "dirty_limit": 0.5}


def small_options(engine: str, compaction: str = "leveled") -> dict[str, Any]:
    if engine == "lsm":
        return {**LSM_SMALL, "compaction": compaction}
    return dict(BTREE_SMALL)


def workload(seed: int, n: int, keyspace: int = 40) -> list[Op]:
    rng = random.Random(seed)
    ops: list[Op] = []
    for i in range(n):
        key = b"key-%03d" % rng.randrange(keyspace)
        if rng.random() < 0.15:
            ops.append(("delete", key, b""))
        elif rng.random() < 0.05:
            ops.append(("sync", b"", b""))
        else:
            ops.append(("put", key, b"v%d-" % i + bytes(rng.randrange(60))))
    return ops


def states_of(ops: list[Op]) -> list[dict[bytes, bytes]]:
    state: dict[bytes, bytes] = {}
    states = [dict(state)]
    for kind, key, value in ops:
        if kind == "put":
            state[key] = value
        elif kind == "delete":
            state.pop(key, None)
        states.append(dict(state))
    return states


@dataclass
class CrashRun:
    crashed: bool
    acked: int
    synced: int
    recovered_prefix: int | None
    fs_operations: int


def run_once(
    engine: str,
    ops: list[Op],
    crash_at: int | None,
    torn: bool,
    sync: str = "always",
    seed: int = 0,
    compaction: str = "leveled",
    fs: FaultFileSystem | None = None,
) -> CrashRun:
    fs = fs or FaultFileSystem(seed)
    options = small_options(engine, compaction)
    store = open_store(engine, "/db", sync=sync, fs=fs, **options)  # type: ignore[arg-type]
    states = states_of(ops)
    start_ops = fs.stats.operations
    fs.arm(crash_at)
    acked = synced = 0
    crashed = False
    try:
        for i, (kind, key, value) in enumerate(ops):
            if kind == "put":
                store.put(key, value)
            elif kind == "delete":
                store.delete(key)
            else:
                store.sync()
                synced = i + 1
            acked = i + 1
            if sync == "always":
                synced = acked
        store.close()
        synced = acked
    except SimulatedCrash:
        crashed = True
    used = fs.stats.operations - start_ops
    fs.crash(torn=torn)
    reopened = open_store(engine, "/db", sync=sync, fs=fs, **options)  # type: ignore[arg-type]
    actual = dict(reopened.scan())
    for key in {k for _, k, _ in ops if k}:
        assert reopened.get(key) == actual.get(key), f"get and scan disagree on {key!r}"
    if engine == "btree":
        reopened.check()  # type: ignore[attr-defined]
    reopened.close()
    upper = min(len(ops), acked + 1)
    prefix = next((i for i in range(upper, synced - 1, -1) if states[i] == actual), None)
    return CrashRun(crashed, acked, synced, prefix, used)


def run_twice(
    engine: str, ops: list[Op], first: int, second: int, compaction: str = "leveled"
) -> bool:
    """Crash during the first half, reopen, run the second half, crash again, check.

    Returns whether the final state is a legal prefix of (recovered state + second half).
    """
    half = len(ops) // 2
    fs = FaultFileSystem(first * 7919 + second)
    one = run_once(engine, ops[:half], first, True, compaction=compaction, fs=fs)
    if one.recovered_prefix is None:
        return False
    base = states_of(ops[:half])[one.recovered_prefix]
    rest = [("put", k, v) for k, v in sorted(base.items())] + ops[half:]
    # The store already holds ``base``: replaying it as puts changes nothing, so prefixes of
    # ``rest`` that include all of it describe the legal states after the second crash.
    options = small_options(engine, compaction)
    store = open_store(engine, "/db", sync="always", fs=fs, **options)  # type: ignore[arg-type]
    states = states_of(rest)[len(base) :]
    fs.arm(second)
    acked = 0
    try:
        for kind, key, value in ops[half:]:
            if kind == "put":
                store.put(key, value)
            elif kind == "delete":
                store.delete(key)
            else:
                store.sync()
            acked += 1
        store.close()
    except SimulatedCrash:
        pass
    fs.crash(torn=True)
    reopened = open_store(engine, "/db", sync="always", fs=fs, **options)  # type: ignore[arg-type]
    actual = dict(reopened.scan())
    if engine == "btree":
        reopened.check()  # type: ignore[attr-defined]
    reopened.close()
    return any(states[i] == actual for i in range(acked, min(acked + 1, len(states) - 1) + 1))
