"""``archlab bench storage``: db_bench-style workloads against RocksDB, LMDB and SQLite.

Workloads (db_bench's names, 16-byte keys, 100-byte values): ``fillseq`` (N keys in order
into an empty store), ``fillrandom`` (N keys in random order into an empty store),
``overwrite`` (N random writes over the fillrandom store), ``readrandom`` (random present
keys), ``readmissing`` (absent keys), ``readseq`` (a full ordered scan). N is 1,000,000, or
100,000 with ``--quick``; reads are N/5 lookups.

Same durability for every engine: writes are logged (archlab's WALs, RocksDB's WAL, SQLite in
WAL mode; LMDB is copy-on-write with no log) and never synced per write; one sync at the end of
each fill (``sync="none"`` + ``sync()``, RocksDB ``flush_wal(sync=True)``, LMDB
``env.sync(True)``, SQLite ``synchronous=NORMAL`` and a full checkpoint). Every write is its
own operation (one ``put``, one LMDB write transaction, one SQLite autocommit statement). The
engines' memory: archlab LSM a 256 MiB block cache with 4 MiB memtables, compaction inline in
the writer's thread (with the GIL a background thread cannot run beside it); archlab B+-tree
65,536 frames (256 MiB, the whole tree): both keep decoded Python objects, where RocksDB, LMDB
and SQLite, at their defaults, read raw pages from the OS page cache.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, cast

from archlab.lab import BenchContext, BenchReport, Column, Ratio, benchmark
from archlab.lab.bench import median, peer_available, ratio

WORKLOADS = ("fillseq", "fillrandom", "overwrite", "readrandom", "readmissing", "readseq")
ENGINES = ("archlab-lsm", "archlab-btree", "rocksdb", "lmdb", "sqlite")
PEER_MODULES = {"rocksdb": "rocksdict", "lmdb": "lmdb"}


class Engine(Protocol):
    def put(self, key: bytes, value: bytes) -> None: ...

    def get(self, key: bytes) -> bytes | None: ...

    def scan(self) -> Iterator[tuple[bytes, bytes]]: ...

    def sync(self) -> None: ...

    def close(self) -> None: ...


class ArchlabEngine:
    def __init__(self, kind: str, path: Path) -> None:
        from archlab.storage import open_store

        options: dict[str, Any] = (
            {"background": False, "block_cache_bytes": 256 << 20}
            if kind == "lsm"
            else {"frames": 65536, "dirty_limit": 0.5}
        )
        self.store = open_store(kind, path, sync="none", **options)
        self.put = self.store.put
        self.get = self.store.get

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        return self.store.scan()

    def sync(self) -> None:
        self.store.sync()

    def close(self) -> None:
        self.store.close()


class RocksEngine:
    def __init__(self, path: Path) -> None:
        from rocksdict import Options, Rdict, WriteOptions

        self.db = Rdict(str(path), Options(raw_mode=True))
        write = WriteOptions()
        write.sync = False
        self.db.set_write_options(write)
        self.put = self.db.put
        self.get = self.db.get

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        yield from cast(Any, self.db).items()

    def sync(self) -> None:
        self.db.flush_wal(True)

    def close(self) -> None:
        self.db.close()


class LmdbEngine:
    def __init__(self, path: Path) -> None:
        import lmdb

        self.env = lmdb.open(str(path), map_size=8 << 30, sync=False, metasync=False)
        self._reader: Any = None

    def put(self, key: bytes, value: bytes) -> None:
        with self.env.begin(write=True) as txn:
            txn.put(key, value)

    def get(self, key: bytes) -> bytes | None:
        if self._reader is None:  # one read transaction per read workload (LMDB's idiom)
            self._reader = self.env.begin()
        value: bytes | None = self._reader.get(key)
        return value

    def end_reads(self) -> None:
        if self._reader is not None:
            self._reader.abort()
            self._reader = None

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        with self.env.begin() as txn:
            yield from txn.cursor().iternext()

    def sync(self) -> None:
        self.env.sync(True)

    def close(self) -> None:
        self.end_reads()
        self.env.close()


class SqliteEngine:
    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path / "kv.sqlite", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID")
        self._put = "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)"
        self._get = "SELECT v FROM kv WHERE k = ?"

    def put(self, key: bytes, value: bytes) -> None:
        self.db.execute(self._put, (key, value))

    def get(self, key: bytes) -> bytes | None:
        row = self.db.execute(self._get, (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(self.db.execute("SELECT k, v FROM kv ORDER BY k"))

    def sync(self) -> None:
        self.db.execute("PRAGMA wal_checkpoint(FULL)")

    def close(self) -> None:
        self.db.close()


def make_engine(name: str, path: Path) -> Engine:
    if name == "archlab-lsm":
        return ArchlabEngine("lsm", path)
    if name == "archlab-btree":
        return ArchlabEngine("btree", path)
    if name == "rocksdb":
        return RocksEngine(path)
    if name == "lmdb":
        return LmdbEngine(path)
    return SqliteEngine(path)


def _timed(operations: int, fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - started
    return operations / elapsed if elapsed > 0 else float("inf")


def run_engine(name: str, scratch: Path, n: int, reads: int, seed: int) -> dict[str, float]:
    """Every workload on one engine; returns ops/s per workload."""
    return run_round([name], scratch, n, reads, seed)[name]


def run_round(
    names: list[str], scratch: Path, n: int, reads: int, seed: int
) -> dict[str, dict[str, float]]:
    """Every workload on every engine, workload by workload.

    All engines hold their store at once and take each workload one after the other (the
    order reversed from one workload to the next), so a change in the machine's load between
    minutes falls on every engine of a workload alike.
    """
    rng = random.Random(seed)
    ordered = [b"%016d" % i for i in range(n)]
    shuffled = ordered[:]
    rng.shuffle(shuffled)
    overwrite = [ordered[rng.randrange(n)] for _ in range(n)]
    present = [ordered[rng.randrange(n)] for _ in range(reads)]
    missing = [b"%015dm" % rng.randrange(n) for _ in range(reads)]  # between present keys
    value = bytes(rng.getrandbits(8) for _ in range(100))
    result: dict[str, dict[str, float]] = {name: {} for name in names}
    turn = 0

    def each() -> list[str]:
        nonlocal turn
        turn += 1
        return names if turn % 2 else list(reversed(names))

    def fill(keys: list[bytes], engine: Engine) -> None:
        put = engine.put
        for key in keys:
            put(key, value)
        engine.sync()

    def read(name: str, engine: Engine, keys: list[bytes], expect_found: bool) -> None:
        get = engine.get
        found = sum(get(key) is not None for key in keys)
        if found != (len(keys) if expect_found else 0):
            raise RuntimeError(f"{name}: {found} of {len(keys)} lookups found a value")

    def scan(name: str, engine: Engine) -> None:
        count = sum(1 for _ in engine.scan())
        if count != n:
            raise RuntimeError(f"{name}: scan returned {count} of {n} keys")

    for name in each():
        path = scratch / f"{name}-seq"
        shutil.rmtree(path, ignore_errors=True)
        engine = make_engine(name, path)
        result[name]["fillseq"] = _timed(n, lambda e=engine: fill(ordered, e))  # type: ignore[misc]
        engine.close()
        shutil.rmtree(path, ignore_errors=True)
    engines: dict[str, Engine] = {}
    try:
        for name in names:
            path = scratch / f"{name}-random"
            shutil.rmtree(path, ignore_errors=True)
            engines[name] = make_engine(name, path)
        for name in each():
            result[name]["fillrandom"] = _timed(n, lambda e=engines[name]: fill(shuffled, e))  # type: ignore[misc]
        for name in each():
            result[name]["overwrite"] = _timed(n, lambda e=engines[name]: fill(overwrite, e))  # type: ignore[misc]
        for workload, keys, found in (
            ("readrandom", present, True),
            ("readmissing", missing, False),
        ):
            for name in each():
                engine = engines[name]
                result[name][workload] = _timed(
                    reads,
                    lambda nm=name, e=engine, k=keys, f=found: read(nm, e, k, f),  # type: ignore[misc]
                )
                if isinstance(engine, LmdbEngine):
                    engine.end_reads()
        for name in each():
            result[name]["readseq"] = _timed(n, lambda nm=name, e=engines[name]: scan(nm, e))  # type: ignore[misc]
    finally:
        for name, engine in engines.items():
            engine.close()
            shutil.rmtree(scratch / f"{name}-random", ignore_errors=True)
    return result


@benchmark(
    name="storage",
    title="Storage engines: archlab LSM and B+-tree vs RocksDB, LMDB, SQLite",
    description="""db_bench-style fillseq, fillrandom, overwrite, readrandom, readmissing and
    readseq with 16-byte keys and 100-byte values (1M keys, 100k with --quick), every engine
    logging writes without a sync per write and syncing once at the end of each fill.""",
)
def bench_storage(ctx: BenchContext) -> BenchReport:
    n = 100_000 if ctx.quick else 1_000_000
    reads = n // 5
    rounds = 3 if ctx.quick else 1
    missing = [e for e, module in PEER_MODULES.items() if not peer_available(module)]
    engines = [e for e in ENGINES if e not in missing]
    samples: dict[str, dict[str, list[float]]] = {e: {w: [] for w in WORKLOADS} for e in engines}
    with ctx.progress.task("rounds of every workload on every engine", rounds) as task:
        for r in range(rounds):
            order = engines if r % 2 == 0 else list(reversed(engines))
            measured = run_round(order, ctx.scratch, n, reads, ctx.seed + r)
            for name, per_workload in measured.items():
                for workload, ops in per_workload.items():
                    samples[name][workload].append(ops)
            task.advance()
    rows = []
    med: dict[str, dict[str, float]] = {}
    for name in engines:
        med[name] = {w: median(samples[name][w]) for w in WORKLOADS}
        for workload in WORKLOADS:
            rows.append(
                {
                    "engine": name,
                    "workload": workload,
                    "ops_per_sec": round(med[name][workload]),
                    "rounds": len(samples[name][workload]),
                }
            )

    def get(engine: str, workload: str) -> float | None:
        return med.get(engine, {}).get(workload)

    ratios = [
        Ratio(
            "archlab LSM / RocksDB, fillrandom",
            ratio(get("archlab-lsm", "fillrandom"), get("rocksdb", "fillrandom")),
            1 / 3,
        ),
        Ratio(
            "archlab LSM / RocksDB, readrandom",
            ratio(get("archlab-lsm", "readrandom"), get("rocksdb", "readrandom")),
            1 / 3,
        ),
        Ratio(
            "archlab B+-tree / SQLite, readrandom",
            ratio(get("archlab-btree", "readrandom"), get("sqlite", "readrandom")),
            1.0,
        ),
    ]
    for workload in ("fillseq", "overwrite", "readmissing", "readseq"):
        ratios.append(
            Ratio(
                f"archlab LSM / RocksDB, {workload}",
                ratio(get("archlab-lsm", workload), get("rocksdb", workload)),
            )
        )
    for workload in ("fillrandom", "readrandom"):
        ratios.append(
            Ratio(
                f"archlab B+-tree / LMDB, {workload}",
                ratio(get("archlab-btree", workload), get("lmdb", workload)),
            )
        )
    notes = [
        f"{n:,} keys, {reads:,} lookups per read workload, median of {rounds} round(s); "
        "within a round every engine runs each workload in turn (order reversed from one "
        "workload to the next). Durability and memory settings: see "
        "archlab.storage.benchmarks. CPU: "
        f"{os.cpu_count()} cores shared with other work, so read ratios, not absolute numbers."
    ]
    return BenchReport(
        columns=[
            Column("engine"),
            Column("workload"),
            Column("ops_per_sec", "ops/s"),
            Column("rounds"),
        ],
        rows=rows,
        ratios=ratios,
        missing_peers=[PEER_MODULES[e] for e in missing],
        notes=notes,
    )
