"""``archlab bench storage``: db_bench-style workloads against RocksDB, LMDB and SQLite.

Workloads (db_bench's names, 16-byte keys, 100-byte values): ``fillseq`` (N keys in order
into an empty store), ``fillrandom`` (N keys in random order into an empty store),
``overwrite`` (N random writes over the fillrandom store), ``readrandom`` (random present
keys), ``readmissing`` (absent keys), ``readseq`` (a full ordered scan). N is 1,000,000, or
100,000 with ``--quick``; reads are N/5 lookups.

Same durability for every engine: every write is its own commit (one ``put``, one LMDB write
transaction, one SQLite autocommit statement) and is handed to the operating system before it
returns, never synced per write: archlab with ``sync="os"`` (the WAL's user-space buffer is
flushed at every commit), RocksDB ``sync=false`` (it writes its WAL per write), SQLite in WAL
mode with ``synchronous=NORMAL``, LMDB with ``sync=False`` (copy-on-write pages, no log). One
sync at the end of each fill (archlab ``sync()``, RocksDB ``flush_wal(sync=True)``, LMDB
``env.sync(True)``, SQLite a full checkpoint). A process crash loses no acknowledged write in
any engine; a power loss may lose the writes since the last sync in every engine.

Same cache budget for every engine (the ``cache_bytes`` parameter): the LSM's block cache
(archlab counts a block's bytes plus its decoded keys), RocksDB's block cache, the B+-tree's
buffer pool (``cache_bytes / page_size`` frames) and SQLite's page cache (``cache_size`` in
KiB). LMDB has no cache of its own: it reads through the OS page cache, which every engine
shares. Both LSM trees get the same write buffer (:data:`MEMTABLE_BYTES`: archlab's memtable,
RocksDB's ``write_buffer_size``). archlab's compaction runs inline in the writer's thread (with
the GIL a background thread cannot run beside it); RocksDB's runs on its own threads.

Two budgets per run (:func:`cache_budgets`): one that holds the whole data set (32 MiB per
100,000 keys, about 2.9x the keys and values) and one an eighth of that (about a third of
the data), so the report says which engine wins in which regime.
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
from archlab.lab.bench import median, peer_available

WORKLOADS = ("fillseq", "fillrandom", "overwrite", "readrandom", "readmissing", "readseq")
ENGINES = ("archlab-lsm", "archlab-btree", "rocksdb", "lmdb", "sqlite")
PEER_MODULES = {"rocksdb": "rocksdict", "lmdb": "lmdb"}
#: The default memory every engine may use for cached pages or blocks (see the docstring).
CACHE_BYTES = 32 << 20
#: The write buffer of both LSM trees (archlab's default memtable; RocksDB's default is 64 MiB).
MEMTABLE_BYTES = 4 << 20
PAGE_BYTES = 4096
#: How every engine makes a write durable in this benchmark (printed with the results).
DURABILITY = (
    "every write handed to the OS before it returns, no sync per write (archlab sync='os', "
    "RocksDB sync=false, SQLite WAL + synchronous=NORMAL, LMDB sync=False); one sync per fill"
)


class Engine(Protocol):
    def put(self, key: bytes, value: bytes) -> None: ...

    def get(self, key: bytes) -> bytes | None: ...

    def scan(self) -> Iterator[tuple[bytes, bytes]]: ...

    def sync(self) -> None: ...

    def close(self) -> None: ...


class ArchlabEngine:
    def __init__(self, kind: str, path: Path, cache_bytes: int) -> None:
        from archlab.storage import open_store

        options: dict[str, Any] = (
            {
                "background": False,
                "block_cache_bytes": cache_bytes,
                "memtable_bytes": MEMTABLE_BYTES,
            }
            if kind == "lsm"
            else {
                "page_size": PAGE_BYTES,
                "frames": max(64, cache_bytes // PAGE_BYTES),
                "dirty_limit": 0.5,
            }
        )
        self.store = open_store(kind, path, sync="os", **options)
        self.put = self.store.put
        self.get = self.store.get

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        return self.store.scan()

    def sync(self) -> None:
        self.store.sync()

    def close(self) -> None:
        self.store.close()


class RocksEngine:
    def __init__(self, path: Path, cache_bytes: int) -> None:
        from rocksdict import BlockBasedOptions, Cache, Options, Rdict, WriteOptions

        options = Options(raw_mode=True)
        table = BlockBasedOptions()
        table.set_block_cache(Cache(cache_bytes))
        options.set_block_based_table_factory(table)
        options.set_write_buffer_size(MEMTABLE_BYTES)
        self.db = Rdict(str(path), options)
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
    def __init__(self, path: Path, cache_bytes: int) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path / "kv.sqlite", isolation_level=None)
        self.db.execute(f"PRAGMA page_size={PAGE_BYTES}")
        self.db.execute(f"PRAGMA cache_size=-{cache_bytes // 1024}")  # negative: KiB
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


def make_engine(name: str, path: Path, cache_bytes: int = CACHE_BYTES) -> Engine:
    """The engine ``name`` in directory ``path`` with ``cache_bytes`` for its caches."""
    if name == "archlab-lsm":
        return ArchlabEngine("lsm", path, cache_bytes)
    if name == "archlab-btree":
        return ArchlabEngine("btree", path, cache_bytes)
    if name == "rocksdb":
        return RocksEngine(path, cache_bytes)
    if name == "lmdb":
        return LmdbEngine(path)  # no cache of its own: the OS page cache
    return SqliteEngine(path, cache_bytes)


def _timed(operations: int, fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - started
    return operations / elapsed if elapsed > 0 else float("inf")


def run_engine(
    name: str, scratch: Path, n: int, reads: int, seed: int, cache_bytes: int = CACHE_BYTES
) -> dict[str, float]:
    """Every workload on one engine; returns ops/s per workload."""
    return run_round([name], scratch, n, reads, seed, cache_bytes)[name]


def run_round(
    names: list[str],
    scratch: Path,
    n: int,
    reads: int,
    seed: int,
    cache_bytes: int = CACHE_BYTES,
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
        engine = make_engine(name, path, cache_bytes)
        result[name]["fillseq"] = _timed(n, lambda e=engine: fill(ordered, e))  # type: ignore[misc]
        engine.close()
        shutil.rmtree(path, ignore_errors=True)
    engines: dict[str, Engine] = {}
    try:
        for name in names:
            path = scratch / f"{name}-random"
            shutil.rmtree(path, ignore_errors=True)
            engines[name] = make_engine(name, path, cache_bytes)
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


def cache_budgets(n: int) -> tuple[int, int]:
    """The two budgets for ``n`` keys: one holding all the data, one an eighth of it."""
    large = CACHE_BYTES * max(1, round(n / 100_000))
    return large, large // 8


#: The goals the issue set: (label, archlab engine, peer, workload, goal).
GOALS = (
    ("archlab LSM / RocksDB, fillrandom", "archlab-lsm", "rocksdb", "fillrandom", 1 / 3),
    ("archlab LSM / RocksDB, readrandom", "archlab-lsm", "rocksdb", "readrandom", 1 / 3),
    ("archlab B+-tree / SQLite, readrandom", "archlab-btree", "sqlite", "readrandom", 1.0),
)


def ratios_of(samples: dict[str, dict[str, list[float]]], suffix: str = "") -> list[Ratio]:
    """The goal ratios, then every other archlab / peer pairing, each over paired rounds."""

    def rounds(engine: str, workload: str) -> list[float] | None:
        return samples.get(engine, {}).get(workload)

    ratios = [
        Ratio.of_rounds(label + suffix, rounds(ours, w), rounds(peer, w), goal)
        for label, ours, peer, w, goal in GOALS
    ]
    for workload in ("fillseq", "overwrite", "readmissing", "readseq"):
        ratios.append(
            Ratio.of_rounds(
                f"archlab LSM / RocksDB, {workload}{suffix}",
                rounds("archlab-lsm", workload),
                rounds("rocksdb", workload),
            )
        )
    for workload in WORKLOADS:
        ratios.append(
            Ratio.of_rounds(
                f"archlab B+-tree / LMDB, {workload}{suffix}",
                rounds("archlab-btree", workload),
                rounds("lmdb", workload),
            )
        )
    for workload in ("fillseq", "fillrandom", "overwrite", "readmissing", "readseq"):
        ratios.append(
            Ratio.of_rounds(
                f"archlab B+-tree / SQLite, {workload}{suffix}",
                rounds("archlab-btree", workload),
                rounds("sqlite", workload),
            )
        )
    return ratios


@benchmark(
    name="storage",
    title="Storage engines: archlab LSM and B+-tree vs RocksDB, LMDB, SQLite",
    description="""db_bench-style fillseq, fillrandom, overwrite, readrandom, readmissing and
    readseq with 16-byte keys and 100-byte values (1M keys, 100k with --quick), at the same
    durability (every write handed to the OS, no sync per write, one sync per fill) and the
    same cache budget for every engine (block cache, buffer pool or page cache), once with a
    budget that holds all the data and once with an eighth of it; 3 rounds each, medians
    with their min–max spread.""",
)
def bench_storage(ctx: BenchContext) -> BenchReport:
    n = 100_000 if ctx.quick else 1_000_000
    reads = n // 5
    rounds = 3
    missing = [e for e, module in PEER_MODULES.items() if not peer_available(module)]
    engines = [e for e in ENGINES if e not in missing]
    budgets = cache_budgets(n)
    rows = []
    ratios: list[Ratio] = []
    with ctx.progress.task("rounds of every workload on every engine", 2 * rounds) as task:
        for cache_bytes in budgets:
            samples: dict[str, dict[str, list[float]]] = {
                e: {w: [] for w in WORKLOADS} for e in engines
            }
            for r in range(rounds):
                order = engines if r % 2 == 0 else list(reversed(engines))
                measured = run_round(order, ctx.scratch, n, reads, ctx.seed + r, cache_bytes)
                for name, per_workload in measured.items():
                    for workload, ops in per_workload.items():
                        samples[name][workload].append(ops)
                task.advance()
            for name in engines:
                for workload in WORKLOADS:
                    values = samples[name][workload]
                    rows.append(
                        {
                            "cache": cache_bytes >> 20,
                            "engine": name,
                            "workload": workload,
                            "ops_per_sec": round(median(values)),
                            "min": round(min(values)),
                            "max": round(max(values)),
                            "rounds": len(values),
                        }
                    )
            ratios += ratios_of(samples, f", cache {cache_bytes >> 20} MiB")
    data_mb = n * (16 + 100) / 1e6
    notes = [
        f"{n:,} keys ({data_mb:.1f} MB of keys and values), {reads:,} lookups per read "
        f"workload, {rounds} rounds per cache budget; within a round every engine runs each "
        "workload in turn (order reversed from one workload to the next, and from one round "
        "to the next). Ratios pair the rounds: median and min–max of the per-round ratios. "
        f"Durability: {DURABILITY}. Cache budgets: {budgets[0] >> 20} MiB (holds all the "
        f"data) and {budgets[1] >> 20} MiB per engine (LSM block caches, B+-tree buffer pool "
        "frames of 4 KiB, SQLite cache_size; LMDB uses only the OS page cache, shared by "
        f"all), {MEMTABLE_BYTES >> 20} MiB write buffer for both LSM trees. CPU: "
        f"{os.cpu_count()} cores shared with other work, so read ratios, not absolute numbers."
    ]
    return BenchReport(
        columns=[
            Column("cache", "MiB", "the cache budget of every engine"),
            Column("engine"),
            Column("workload"),
            Column("ops_per_sec", "ops/s", "median over the rounds"),
            Column("min", "ops/s", "slowest round"),
            Column("max", "ops/s", "fastest round"),
            Column("rounds"),
        ],
        rows=rows,
        ratios=ratios,
        missing_peers=[PEER_MODULES[e] for e in missing],
        notes=notes,
    )
