"""Chapter 4.1–4.2 claims (and 6.2's random keys), measured on archlab's own engines.

Each experiment builds real stores on the scratch directory's filesystem, measures them, and
its judge turns the numbers into a verdict. The engines are those of
:mod:`archlab.storage.lsm` and :mod:`archlab.storage.btree`.
"""

from __future__ import annotations

import math
import random
import shutil
import statistics
import time
from collections.abc import Mapping
from typing import Any

from archlab.lab import (
    Band,
    Column,
    Context,
    Figure,
    Judgement,
    Outcome,
    RefLine,
    Series,
    Table,
    Value,
    experiment,
    holds,
    nuanced,
    number,
    refuted,
)
from archlab.storage.bloom import BloomFilter, optimal_hashes, theoretical_fp_rate
from archlab.storage.btree import BTreeStore
from archlab.storage.faultfs import FaultFileSystem
from archlab.storage.lsm import LSMStore
from archlab.storage.workloads import (
    CountingFileSystem,
    skewed_indexes,
    time_ordered_keys,
    uuid4_keys,
)

LN2 = math.log(2)


def _fresh(ctx: Context, name: str) -> str:
    path = ctx.scratch / name
    shutil.rmtree(path, ignore_errors=True)
    return str(path)


def _keys(n: int, rng: random.Random) -> list[bytes]:
    return [b"%016d" % k for k in rng.sample(range(10**15), n)]


# ---------------------------------------------------------------------------------- 4.1 height


def judge_btree_height(v: Mapping[str, Value]) -> Judgement:
    sizes = int(number(v, "sizes"))
    exact = all(number(v, f"reads_equal_height_{i}") == 1 for i in range(sizes))
    first, last = number(v, "height_0"), number(v, f"height_{sizes - 1}")
    growth = number(v, "n_growth")
    bound = number(v, "height_bound")
    fanout = number(v, "fanout")
    text = (
        f"height went from {first:.0f} to {last:.0f} while N grew {growth:.0f}x "
        f"(fanout {fanout:.0f}: log_B bound {bound:.0f}); a cold lookup read "
        f"{'exactly' if exact else 'not always'} height pages"
    )
    if exact and last <= bound and last > first:
        return holds(text)
    if not exact or last > bound + 1:
        return refuted(text)
    return nuanced(text)


@experiment(
    id="storage.btree_height",
    section="4.1",
    title="B+-tree lookups read one page per level",
    claim="""A B+-tree lookup costs a number of page reads equal to the height of the tree, which
    grows with the logarithm of the number of keys in base of the page fanout (O(log N)), so a
    thousandfold more keys adds only a level or two.""",
    method="""For each N, N random 16-byte keys with 16-byte values are inserted into a B+-tree
    with 4 KiB pages, checkpointed, and reopened. Each of 200 lookups of a random present key
    then starts from an empty buffer pool and counts the pages read from the file; another 2000
    lookups run with a warm pool of 64 frames (pages read per lookup and latency). The bound is
    1 + ceil(log_B(leaves)) with B the measured internal fanout.""",
    judge=judge_btree_height,
    profiles={
        "quick": {"sizes": [1000, 10000, 40000], "cold_lookups": 200, "warm_lookups": 2000},
        "full": {
            "sizes": [1000, 10000, 100000, 1000000],
            "cold_lookups": 500,
            "warm_lookups": 20000,
        },
    },
    references=[
        "Codex 4.1: B-tree lookups have consistent O(log N) cost.",
    ],
)
def btree_height(ctx: Context) -> Outcome[dict[str, Value]]:
    rng = ctx.rng("keys")
    sizes = [int(n) for n in ctx.params["sizes"]]
    table = Table(
        "Lookup cost by number of keys",
        [
            Column("keys"),
            Column("height", "levels"),
            Column("leaves"),
            Column("internal fanout", "children"),
            Column("cold lookup", "pages read"),
            Column("warm lookup, 64 frames", "pages read"),
            Column("warm lookup", "µs"),
        ],
    )
    values: dict[str, Value] = {"sizes": len(sizes)}
    heights: list[float] = []
    cold_reads: list[float] = []
    fanout = 0.0
    leaves = 0
    with ctx.progress.task("B+-tree sizes", len(sizes)) as task:
        for i, n in enumerate(sizes):
            path = _fresh(ctx, f"height-{n}")
            keys = _keys(n, rng)
            with BTreeStore(path, "none", frames=8192) as store:
                for key in keys:
                    store.put(key, key)
            cold = []
            store = BTreeStore(path, "none", frames=64)
            for key in rng.sample(keys, min(len(keys), int(ctx.params["cold_lookups"]))):
                store.pool.drop_all()
                store.root = store.pool.get(store.meta.root)
                before = store.pool.reads
                assert store.get(key) == key
                cold.append(store.pool.reads - before + 1)  # + the root read just above
            probes = [keys[rng.randrange(n)] for _ in range(int(ctx.params["warm_lookups"]))]
            before = store.pool.reads
            started = time.perf_counter()
            for key in probes:
                store.get(key)
            elapsed = time.perf_counter() - started
            warm_reads = (store.pool.reads - before) / len(probes)
            st = store.stats()
            leaves = int(st["leaves"])
            internal = max(1, int(st["internal_pages"]))
            fanout = (int(st["pages"]) - 2) / internal if st["height"] > 1 else 0.0
            store.close()
            height = float(st["height"])
            heights.append(height)
            cold_reads.append(statistics.mean(cold))
            values[f"height_{i}"] = height
            values[f"reads_equal_height_{i}"] = int(all(c == height for c in cold))
            table.add(
                n,
                int(height),
                leaves,
                round(fanout, 1),
                statistics.mean(cold),
                round(warm_reads, 3),
                elapsed / len(probes) * 1e6,
            )
            shutil.rmtree(path, ignore_errors=True)
            task.advance()
    bound = 1 + math.ceil(math.log(max(leaves, 2), max(fanout, 2.0)))
    values.update(
        {
            "n_growth": sizes[-1] / sizes[0],
            "fanout": round(fanout, 1),
            "height_bound": bound,
        }
    )
    figure = Figure(
        "Pages read by one cold lookup vs number of keys",
        x_label="keys (log scale)",
        y_label="pages read",
        log_x=True,
        series=[
            Series("height", [float(n) for n in sizes], heights),
            Series("pages read (cold)", [float(n) for n in sizes], cold_reads, style="scatter"),
        ],
    )
    return Outcome(
        values,
        summary=f"height {heights[0]:.0f} → {heights[-1]:.0f} as N grew "
        f"{sizes[-1] // sizes[0]}x; cold lookups read height pages",
        tables=[table],
        figures=[figure],
    )


# ------------------------------------------------------------------------- 4.1 / 6.2 UUID keys


def judge_uuid_keys(v: Mapping[str, Value]) -> Judgement:
    fill_v4, fill_seq = number(v, "fill_uuid4"), number(v, "fill_time_ordered")
    size_ratio = number(v, "file_ratio")
    split_ratio = number(v, "split_ratio")
    speed = number(v, "throughput_ratio")
    text = (
        f"UUIDv4 leaves {fill_v4:.0%} full (ln 2 = 69%), time-ordered {fill_seq:.0%}; "
        f"v4 file {size_ratio:.2f}x larger, {split_ratio:.2f}x the splits per insert, "
        f"time-ordered inserts {speed:.2f}x as fast"
    )
    fragments = abs(fill_v4 - LN2) <= 0.07 and fill_seq >= 0.85 and size_ratio >= 1.15
    if fragments and speed >= 1.2:
        return holds(text)
    if not fragments and speed < 1.05:
        return refuted(text)
    return nuanced(text)


@experiment(
    id="storage.uuid_keys",
    section="6.2",
    title="Random UUID keys fragment a B+-tree",
    claim="""Random (UUIDv4) keys land on random leaves, so B-tree pages split half-empty and
    settle near ln 2 ≈ 69% full, the index grows larger and inserts slow down once it outgrows
    memory, while time-ordered keys (UUIDv7, ULID, Snowflake) append to the rightmost leaf and
    pack pages nearly full (codex 4.1 and 6.2).""",
    method="""The same number of 16-byte keys, UUIDv4 or time-ordered (48-bit millisecond
    timestamp, counter, random tail), each with a 100-byte value, inserted into a B+-tree with
    4 KiB pages and a buffer pool holding about a sixth of the final tree, sync=none with
    checkpoints. Measured: leaf splits per insert, average leaf fill, data file size, page reads
    and writes, insert throughput (median of repeats, alternating).""",
    judge=judge_uuid_keys,
    profiles={
        "quick": {"keys": 12000, "frames": 160, "repeats": 1},
        "full": {"keys": 300000, "frames": 2048, "repeats": 3},
    },
    references=[
        "Yao (1978): random insertion leaves B-tree pages ~69% (ln 2) full; PostgreSQL splits "
        "the rightmost leaf 90/10 (REFERENCES.md, storage).",
        "T. Vondra (2018): random UUIDv4 inserts fell to ~20% (HDD) / ~50% (SSD) of sequential "
        "throughput; UUIDv7 indexes ~30% smaller than v4 (REFERENCES.md, storage).",
    ],
)
def uuid_keys(ctx: Context) -> Outcome[dict[str, Value]]:
    n = int(ctx.params["keys"])
    frames = int(ctx.params["frames"])
    kinds = {
        "uuid4": uuid4_keys(n, ctx.rng("uuid4")),
        "time_ordered": time_ordered_keys(n, ctx.rng("v7")),
    }
    value = bytes(100)
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    repeats = int(ctx.params["repeats"])
    with ctx.progress.task("UUIDv4 vs time-ordered", repeats * 2) as task:
        for r in range(repeats):
            order = list(kinds) if r % 2 == 0 else list(reversed(kinds))
            for kind in order:
                path = _fresh(ctx, f"uuid-{kind}")
                store = BTreeStore(path, "none", frames=frames)
                started = time.perf_counter()
                for key in kinds[kind]:
                    store.put(key, value)
                store.checkpoint()
                elapsed = time.perf_counter() - started
                st = store.stats()
                store.close()
                runs[kind].append({**st, "ops": n / elapsed})
                shutil.rmtree(path, ignore_errors=True)
                task.advance()
    med = {
        kind: {
            key: statistics.median(float(r[key]) for r in rs)
            for key in (
                "ops",
                "avg_leaf_fill",
                "file_bytes",
                "leaf_splits",
                "page_reads",
                "page_writes",
            )
        }
        for kind, rs in runs.items()
    }
    table = Table(
        f"{n} inserts of 16-byte keys and 100-byte values, {frames}-frame buffer pool",
        [
            Column("keys"),
            Column("inserts/s"),
            Column("leaf splits per 1000 inserts"),
            Column("average leaf fill", "%"),
            Column("data file", "MiB"),
            Column("page reads"),
            Column("page writes"),
        ],
    )
    for kind, m in med.items():
        table.add(
            kind,
            m["ops"],
            1000 * m["leaf_splits"] / n,
            100 * m["avg_leaf_fill"],
            m["file_bytes"] / 2**20,
            int(m["page_reads"]),
            int(m["page_writes"]),
        )
    v4, seq = med["uuid4"], med["time_ordered"]
    values: dict[str, Value] = {
        "fill_uuid4": round(v4["avg_leaf_fill"], 4),
        "fill_time_ordered": round(seq["avg_leaf_fill"], 4),
        "file_ratio": round(v4["file_bytes"] / seq["file_bytes"], 3),
        "split_ratio": round(v4["leaf_splits"] / max(1.0, seq["leaf_splits"]), 3),
        "throughput_ratio": round(seq["ops"] / v4["ops"], 3),
        "page_write_ratio": round(v4["page_writes"] / max(1.0, seq["page_writes"]), 3),
    }
    figure = Figure(
        "Average leaf fill",
        y_label="fill",
        series=[
            Series("leaf fill", list(med), [m["avg_leaf_fill"] for m in med.values()], style="bar")
        ],
        ref_lines=[RefLine(LN2, "ln 2 (Yao)"), RefLine(0.9, "PostgreSQL rightmost split 90%")],
    )
    return Outcome(
        values,
        summary=f"UUIDv4 leaves {v4['avg_leaf_fill']:.0%} full vs {seq['avg_leaf_fill']:.0%}; "
        f"file {values['file_ratio']}x; time-ordered inserts {values['throughput_ratio']}x "
        "as fast",
        tables=[table],
        figures=[figure],
    )


# ------------------------------------------------------------------------ 4.2 LSM vs B+-tree


def judge_lsm_vs_btree(v: Mapping[str, Value]) -> Judgement:
    speed = number(v, "throughput_ratio")
    lsm_seq, bt_seq = number(v, "lsm_sequential_share"), number(v, "btree_sequential_share")
    bytes_ratio = number(v, "bytes_ratio")
    text = (
        f"the LSM took random-key writes {speed:.2f}x as fast as the B+-tree; "
        f"{lsm_seq:.0%} of its bytes were written sequentially vs {bt_seq:.0%}; it wrote "
        f"{bytes_ratio:.2f}x the B+-tree's bytes"
    )
    if speed >= 1.5 and lsm_seq >= 0.9 and bt_seq < lsm_seq:
        return holds(text)
    if speed < 1.0 and lsm_seq <= bt_seq:
        return refuted(text)
    return nuanced(text)


@experiment(
    id="storage.lsm_vs_btree_writes",
    section="4.2",
    title="An LSM tree turns random writes into sequential I/O",
    claim="""An LSM tree appends writes to a log and flushes sorted runs, so random-key writes
    become sequential I/O and run faster than in a B-tree, which must update pages in place at
    random places of its file.""",
    method="""The same random 16-byte keys with 100-byte values are written to the LSM tree
    (leveled, 1 MiB memtable) and to the B+-tree (4 KiB pages, buffer pool of one tenth of its
    final size, checkpoints), both sync=batch (group commit), one sync at the end, on the same
    filesystem. A counting file layer classifies each write as sequential (continuing the
    previous write to that file) or random. Throughput alternates engines over repeats
    (median); bytes written include logs, flushes, compactions and checkpoints.""",
    judge=judge_lsm_vs_btree,
    profiles={
        "quick": {"keys": 10000, "repeats": 1, "btree_frames": 128},
        "full": {"keys": 200000, "repeats": 3, "btree_frames": 2000},
    },
    references=[
        "Codex 4.1: LSM trees convert random writes into sequential writes. LevelDB's 2011 "
        "benchmark: random writes 164k ops/s vs SQLite3's 9.9k (REFERENCES.md, storage).",
    ],
)
def lsm_vs_btree_writes(ctx: Context) -> Outcome[dict[str, Value]]:
    n = int(ctx.params["keys"])
    keys = _keys(n, ctx.rng("keys"))
    value = bytes(100)
    results: dict[str, list[dict[str, float]]] = {"lsm": [], "btree": []}
    repeats = int(ctx.params["repeats"])
    with ctx.progress.task("LSM vs B+-tree", 2 * repeats) as task:
        for r in range(repeats):
            for engine in ("lsm", "btree") if r % 2 == 0 else ("btree", "lsm"):
                fs = CountingFileSystem()
                path = _fresh(ctx, f"writes-{engine}")
                store: LSMStore | BTreeStore
                if engine == "lsm":
                    store = LSMStore(path, "batch", fs=fs, memtable_bytes=1 << 20, background=False)
                else:
                    store = BTreeStore(path, "batch", fs=fs, frames=int(ctx.params["btree_frames"]))
                started = time.perf_counter()
                for key in keys:
                    store.put(key, value)
                store.sync()
                elapsed = time.perf_counter() - started
                st = store.stats()
                store.close()
                results[engine].append(
                    {
                        "ops": n / elapsed,
                        "bytes": float(fs.count.total),
                        "sequential": fs.count.sequential_share,
                        "user": float(st["user_bytes"]),
                        "syncs": float(fs.count.syncs),
                    }
                )
                shutil.rmtree(path, ignore_errors=True)
                task.advance()
    med = {e: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for e, rs in results.items()}
    table = Table(
        f"{n} random-key writes, 16-byte keys, 100-byte values, sync=batch",
        [
            Column("engine"),
            Column("writes/s"),
            Column("bytes written", "MiB"),
            Column("bytes written per user byte", "x"),
            Column("sequential share of bytes", "%"),
            Column("syncs"),
        ],
    )
    for engine, m in med.items():
        table.add(
            engine,
            m["ops"],
            m["bytes"] / 2**20,
            m["bytes"] / m["user"],
            100 * m["sequential"],
            int(m["syncs"]),
        )
    values: dict[str, Value] = {
        "throughput_ratio": round(med["lsm"]["ops"] / med["btree"]["ops"], 3),
        "lsm_sequential_share": round(med["lsm"]["sequential"], 4),
        "btree_sequential_share": round(med["btree"]["sequential"], 4),
        "bytes_ratio": round(med["lsm"]["bytes"] / med["btree"]["bytes"], 3),
        "lsm_ops": round(med["lsm"]["ops"]),
        "btree_ops": round(med["btree"]["ops"]),
    }
    figure = Figure(
        "Random-key write throughput",
        y_label="writes/s",
        series=[Series("writes/s", list(med), [m["ops"] for m in med.values()], style="bar")],
    )
    return Outcome(
        values,
        summary=f"LSM {values['throughput_ratio']}x the B+-tree's random-write throughput; "
        f"sequential share {med['lsm']['sequential']:.0%} vs {med['btree']['sequential']:.0%}",
        tables=[table],
        figures=[figure],
    )


# ----------------------------------------------------------------------------- 4.2 Bloom


def judge_bloom(v: Mapping[str, Value]) -> Judgement:
    probes_with, probes_without = number(v, "probes_with"), number(v, "probes_without")
    speedup = number(v, "latency_ratio")
    worst = number(v, "worst_fp_error")
    text = (
        f"absent-key lookups probed {probes_with:.2f} tables with 10 bits/key vs "
        f"{probes_without:.2f} without, {speedup:.1f}x faster; measured false-positive rates "
        f"within {worst:.0%} of (1 − e^(−kn/m))^k"
    )
    if probes_with <= 0.1 * probes_without and speedup > 1.2 and worst <= 0.3:
        return holds(text)
    if probes_with >= 0.8 * probes_without or worst > 1.0:
        return refuted(text)
    return nuanced(text)


@experiment(
    id="storage.bloom_filters",
    section="4.2",
    title="Bloom filters spare an LSM tree's reads of absent keys",
    claim="""LSM engines keep a Bloom filter per SSTable so that a lookup skips tables that
    cannot contain the key; with about 10 bits per key only about 1% of those tables are read
    anyway, as (1 − e^(−kn/m))^k predicts.""",
    method="""Two LSM trees hold the same keys spread over several SSTables (L0 tables and
    levels), one with 10-bit-per-key filters, one with none. Lookups of absent keys that fall
    inside the tables' key ranges count the tables actually read and the latency. Separately,
    filters of n keys at 1–16 bits per key (k = round(b·ln 2)) are probed with keys not in
    them to measure the false-positive rate against the formula.""",
    judge=judge_bloom,
    profiles={
        "quick": {"keys": 20000, "lookups": 5000, "filter_keys": 10000, "filter_probes": 20000},
        "full": {"keys": 300000, "lookups": 50000, "filter_keys": 100000, "filter_probes": 400000},
    },
    references=[
        "About 1% false positives at 10 bits per key; theory 0.82% with k = 7 "
        "(REFERENCES.md, storage).",
    ],
)
def bloom_filters(ctx: Context) -> Outcome[dict[str, Value]]:
    n = int(ctx.params["keys"])
    rng = ctx.rng("keys")
    keys = [b"key%012d" % (2 * i) for i in rng.sample(range(10**9), n)]
    absent = [
        b"key%012d" % (2 * rng.randrange(10**9) + 1) for _ in range(int(ctx.params["lookups"]))
    ]
    measured: dict[str, dict[str, float]] = {}
    for label, bits in (("10 bits/key", 10.0), ("no filter", 0.0)):
        path = _fresh(ctx, f"bloom-{bits:g}")
        store = LSMStore(
            path, "none", bloom_bits_per_key=bits, memtable_bytes=256 << 10, background=False
        )
        for key in keys:
            store.put(key, bytes(50))
        store.flush()
        before = store.stats()
        started = time.perf_counter()
        for key in absent:
            store.get(key)
        elapsed = time.perf_counter() - started
        after = store.stats()
        tables = len(store.version.tables())
        store.close()
        shutil.rmtree(path, ignore_errors=True)
        measured[label] = {
            "probes": (after["tables_probed"] - before["tables_probed"]) / len(absent),
            "us": elapsed / len(absent) * 1e6,
            "tables": tables,
            "negatives": after["bloom_negatives"] - before["bloom_negatives"],
            "fps": after["bloom_false_positives"] - before["bloom_false_positives"],
        }
    lookup = Table(
        f"{len(absent)} lookups of absent keys among {n} keys",
        [
            Column("filter"),
            Column("SSTables"),
            Column("tables read per lookup"),
            Column("latency", "µs per lookup"),
            Column("filter said no"),
            Column("false positives"),
        ],
    )
    for label, m in measured.items():
        lookup.add(
            label, int(m["tables"]), m["probes"], m["us"], int(m["negatives"]), int(m["fps"])
        )
    fn = int(ctx.params["filter_keys"])
    probes = int(ctx.params["filter_probes"])
    curve = Table(
        f"False-positive rate of one filter of {fn} keys, {probes} absent probes",
        [
            Column("bits per key"),
            Column("hashes k"),
            Column("measured", "%"),
            Column("theory (1 − e^(−kn/m))^k", "%"),
            Column("measured / theory", "x"),
        ],
    )
    bits_list = [1, 2, 4, 6, 8, 10, 12, 16]
    measured_fp: list[float] = []
    theory_fp: list[float] = []
    worst = 0.0
    member = [b"m%d" % i for i in range(fn)]
    outsiders = [b"o%d" % i for i in range(probes)]
    for bits in bits_list:
        bloom = BloomFilter.build(member, fn, bits)
        fp = sum(map(bloom.may_contain, outsiders)) / probes
        theory = theoretical_fp_rate(bits)
        measured_fp.append(fp)
        theory_fp.append(theory)
        if theory * probes >= 50:  # enough expected hits for the comparison to mean something
            worst = max(worst, abs(fp - theory) / theory)
        curve.add(bits, optimal_hashes(bits), 100 * fp, 100 * theory, fp / theory)
    with_f, without = measured["10 bits/key"], measured["no filter"]
    values: dict[str, Value] = {
        "probes_with": round(with_f["probes"], 4),
        "probes_without": round(without["probes"], 4),
        "latency_ratio": round(without["us"] / with_f["us"], 3),
        "fp_at_10_bits": round(measured_fp[bits_list.index(10)], 5),
        "worst_fp_error": round(worst, 4),
    }
    figure = Figure(
        "Bloom filter false-positive rate",
        x_label="bits per key",
        y_label="false-positive rate (log scale)",
        log_y=True,
        series=[
            Series(
                "measured",
                [float(b) for b in bits_list],
                [max(f, 1e-6) for f in measured_fp],
                style="scatter",
            ),
            Series("(1 − e^(−kn/m))^k", [float(b) for b in bits_list], theory_fp),
        ],
    )
    return Outcome(
        values,
        summary=f"{with_f['probes']:.3f} vs {without['probes']:.2f} tables read per absent "
        f"lookup; FP {values['fp_at_10_bits']:.2%} at 10 bits/key",
        tables=[lookup, curve],
        figures=[figure],
    )


# ---------------------------------------------------------------------- 4.2 leveled vs tiered


def judge_compaction(v: Mapping[str, Value]) -> Judgement:
    ratio = number(v, "size_ratio")
    per_level = number(v, "uniform_wa_per_level_leveled")
    tiered_level = number(v, "uniform_wa_per_level_tiered")
    parts = []
    ok = 0
    checks = 0
    for dist in ("uniform", "skewed"):
        wl, wt = number(v, f"{dist}_wa_leveled"), number(v, f"{dist}_wa_tiered")
        rl, rt = number(v, f"{dist}_runs_leveled"), number(v, f"{dist}_runs_tiered")
        sl, st = number(v, f"{dist}_sa_leveled"), number(v, f"{dist}_sa_tiered")
        parts.append(
            f"{dist}: write amp {wl:.1f} vs {wt:.1f}, sorted runs {rl:.1f} vs {rt:.1f}, "
            f"peak space amp {sl:.2f} vs {st:.2f} (leveled vs tiered)"
        )
        ok += (wl > wt) + (rt > rl) + (sl < st)
        checks += 3
    thumb = per_level >= ratio / 3
    text = "; ".join(parts) + (
        f"; on uniform keys the busiest level took {per_level:.1f} bytes per user byte under "
        f"leveled compaction (rule of thumb T = {ratio:.0f}) and {tiered_level:.1f} under tiered "
        "(rule of thumb 1)"
    )
    if ok == checks and thumb:
        return holds(text)
    if ok == checks:
        return nuanced(text + ": the ordering holds but leveling rewrote far less than T per level")
    if ok <= checks // 3:
        return refuted(text)
    return nuanced(text)


@experiment(
    id="storage.compaction_styles",
    section="4.2",
    title="Leveled vs tiered compaction: write, read and space amplification",
    claim="""Leveled compaction rewrites data about T times per level, so it writes more but
    keeps few sorted runs (cheap reads) and little dead space; tiered compaction rewrites data
    about once per tier, so it writes less but leaves more runs to probe and more space taken
    by overwritten versions.""",
    method="""The same overwrite workload (16-byte keys, 100-byte values, uniform or skewed:
    90% of writes to 10% of the keys) runs on an LSM tree with leveled compaction (T = 10; 4
    in the quick profile so that its small data reaches several levels) and with size-tiered
    compaction (4 runs of similar size merge). Write amplification is bytes written by
    flushes and compactions over user bytes (the log adds 1), and per level the bytes
    compaction wrote into it per user byte (the busiest level is compared with the rule of
    thumb); read amplification is the sorted runs a lookup may probe, averaged over the run
    (and tables probed per lookup with filters); space amplification is live table bytes over
    the bytes of the newest versions, sampled during the run (peak). Every byte is counted by
    the engine itself, so the stores run on archlab's in-memory disk model (the
    fault-injecting file layer without faults) rather than paying an fsync per table.""",
    judge=judge_compaction,
    profiles={
        "quick": {"keyspace": 8000, "writes": 40000, "memtable_kb": 32, "size_ratio": 4},
        "full": {"keyspace": 200000, "writes": 1500000, "memtable_kb": 512, "size_ratio": 10},
    },
    references=[
        "Rules of thumb: leveled ≈ T bytes written per level per user byte, tiered ≈ 1 per "
        "level; RocksDB totals commonly 6–18x; leveled space amp ≈ 1 + 1/T, tiered 2–3x and "
        "more during overwrites (REFERENCES.md, storage).",
    ],
)
def compaction_styles(ctx: Context) -> Outcome[dict[str, Value]]:
    p = ctx.params
    keyspace, writes = int(p["keyspace"]), int(p["writes"])
    ratio = int(p["size_ratio"])
    rng = ctx.rng("workload")
    workloads = {
        "uniform": [rng.randrange(keyspace) for _ in range(writes)],
        "skewed": skewed_indexes(writes, keyspace, rng),
    }
    table = Table(
        f"{writes} overwrites of {keyspace} keys",
        [
            Column("workload"),
            Column("compaction"),
            Column("levels or tiers"),
            Column("write amp (tables)", "x"),
            Column("busiest level", "bytes per user byte"),
            Column("rule of thumb per level", "x"),
            Column("sorted runs, mean over the run"),
            Column("tables probed per get"),
            Column("space amp, end"),
            Column("space amp, peak"),
        ],
    )
    values: dict[str, Value] = {"size_ratio": ratio}
    series: list[Series] = []
    with ctx.progress.task("compaction styles", 4) as task:
        for dist, indexes in workloads.items():
            for style in ("leveled", "tiered"):
                store = LSMStore(
                    "/compaction",
                    "none",
                    fs=FaultFileSystem(),
                    compaction=style,
                    size_ratio=ratio,
                    memtable_bytes=int(p["memtable_kb"]) << 10,
                    table_bytes=int(p["memtable_kb"]) << 9,
                    background=False,
                )
                peak = 0.0
                sample_every = max(1, writes // 6)
                trace_x, trace_y = [], []
                run_counts = []
                for i, k in enumerate(indexes):
                    store.put(b"%016d" % k, b"%08d" % i + bytes(92))
                    if i % 50 == 0:
                        run_counts.append(len(store.version.runs))
                    if i % sample_every == sample_every - 1:
                        space = store.space_amplification()
                        peak = max(peak, space)
                        trace_x.append(float(i + 1))
                        trace_y.append(space)
                store.flush()
                st = store.stats()
                probes_before = st["tables_probed"]
                lookups = 2000
                for _ in range(lookups):
                    store.get(b"%016d" % rng.randrange(keyspace))
                probed = (store.stats()["tables_probed"] - probes_before) / lookups
                end_space = store.space_amplification()
                peak = max(peak, end_space)
                levels = len({r.level for r in store.version.runs if r.level > 0}) or 1
                store.close()
                wa = float(st["write_amplification_tables"])
                into_level = {
                    int(name[1:]): written / st["user_bytes"]
                    for name, written in st["compaction_bytes_written"].items()
                }
                per_level = max(into_level.values(), default=0.0)
                thumb = ratio if style == "leveled" else 1
                table.add(
                    dist,
                    style,
                    levels,
                    wa,
                    per_level,
                    thumb,
                    statistics.mean(run_counts),
                    probed,
                    end_space,
                    peak,
                )
                values[f"{dist}_wa_{style}"] = round(wa, 3)
                values[f"{dist}_runs_{style}"] = round(statistics.mean(run_counts), 3)
                values[f"{dist}_sa_{style}"] = round(peak, 3)
                values[f"{dist}_probes_{style}"] = round(probed, 3)
                values[f"{dist}_wa_per_level_{style}"] = round(per_level, 3)
                series.append(Series(f"{dist} {style}", trace_x, trace_y))
                task.advance()
    figure = Figure(
        "Space amplification during the overwrite workload",
        x_label="writes",
        y_label="live bytes / newest-version bytes",
        series=series,
        ref_lines=[RefLine(1 + 1 / ratio, f"leveled rule 1 + 1/T = {1 + 1 / ratio:.2f}")],
    )
    return Outcome(
        values,
        summary=f"write amp leveled {values['uniform_wa_leveled']} vs tiered "
        f"{values['uniform_wa_tiered']} (uniform); runs {values['uniform_runs_leveled']} vs "
        f"{values['uniform_runs_tiered']}",
        tables=[table],
        figures=[figure],
        notes=[
            "Per level = table write amplification / (levels + 1 for the flush); the rule of "
            "thumb is T per level for leveled and 1 per level for tiered. Lookups are of present "
            "keys with 10-bit filters, so tables probed stays near 1 for both: the filters hide "
            "most of tiered compaction's extra runs."
        ],
    )


# ---------------------------------------------------------------------------- 4.2 write stall


def judge_write_stall(v: Mapping[str, Value]) -> Judgement:
    fast = number(v, "stall_fraction_fast")
    slow = number(v, "stall_fraction_throttled")
    dip = number(v, "stalled_window_ratio")
    text = (
        f"writing flat out, {fast:.0%} of the time was spent stalled (windows with stalls ran at "
        f"{dip:.0%} of the other windows' rate); at a rate compaction could sustain, {slow:.0%}"
    )
    if fast >= 0.05 and slow <= fast / 3:
        return holds(text)
    if fast < 0.01:
        return refuted(text)
    return nuanced(text)


@experiment(
    id="storage.write_stall",
    section="4.2",
    title="Write stalls when writes outrun compaction",
    claim="""When data arrives faster than compaction can merge it, L0 files and pending
    compaction bytes pile up and the LSM engine slows and then stops writes (a write stall)
    until compaction catches up; at a sustainable rate it does not stall.""",
    method="""An LSM tree with background compaction and small thresholds (L0 trigger 2,
    slowdown 4, stop 6, 64 KiB memtables) takes random-key writes flat out for a fixed time,
    then again at a quarter of the rate it achieved, on a fresh store. Each 100 ms window records
    writes completed and the store's cumulative stall time; stalled windows are shaded.""",
    judge=judge_write_stall,
    profiles={
        "quick": {"seconds": 1.5, "memtable_kb": 64},
        "full": {"seconds": 20.0, "memtable_kb": 256},
    },
    references=[
        "RocksDB defaults: L0 compaction trigger 4, slowdown 20, stop 36 files; pending "
        "compaction bytes 64 GB / 256 GB (REFERENCES.md, storage).",
    ],
)
def write_stall(ctx: Context) -> Outcome[dict[str, Value]]:
    p = ctx.params
    seconds = float(p["seconds"])
    rng = ctx.rng("keys")
    runs: dict[str, dict[str, Any]] = {}
    rate_limit: float | None = None
    for phase in ("flat out", "throttled"):
        path = _fresh(ctx, f"stall-{phase.replace(' ', '-')}")
        store = LSMStore(
            path,
            "none",
            memtable_bytes=int(p["memtable_kb"]) << 10,
            table_bytes=int(p["memtable_kb"]) << 10,
            l0_trigger=2,
            l0_slowdown=4,
            l0_stop=6,
            delayed_write_rate=1 << 20,
            background=True,
        )
        windows: list[tuple[float, int, float, int]] = []
        done = 0
        started = time.perf_counter()
        next_window = started + 0.1
        last_done, last_stall = 0, 0.0
        value = bytes(100)
        while True:
            now = time.perf_counter()
            if now >= next_window:
                stall = store.counters.stall_seconds
                l0 = len(store.version.level_runs(0))
                windows.append((now - started, done - last_done, stall - last_stall, l0))
                last_done, last_stall = done, stall
                next_window += 0.1
                if now - started >= seconds:
                    break
            if rate_limit is not None and done >= rate_limit * (now - started):
                time.sleep(0.0005)
                continue
            store.put(b"%016d" % rng.randrange(10**15), value)
            done += 1
        elapsed = time.perf_counter() - started
        stall_total = store.counters.stall_seconds
        events = store.counters.stall_events
        store.close()
        shutil.rmtree(path, ignore_errors=True)
        runs[phase] = {
            "windows": windows,
            "ops": done / elapsed,
            "stall": stall_total,
            "elapsed": elapsed,
            "events": events,
        }
        if rate_limit is None:
            rate_limit = done / elapsed / 4
    fast = runs["flat out"]
    stalled = [w for w in fast["windows"] if w[2] > 0.01]
    free = [w for w in fast["windows"] if w[2] <= 0.01]
    stalled_rate = statistics.mean(w[1] for w in stalled) if stalled else 0.0
    free_rate = statistics.mean(w[1] for w in free) if free else 0.0
    values: dict[str, Value] = {
        "stall_fraction_fast": round(fast["stall"] / fast["elapsed"], 4),
        "stall_fraction_throttled": round(
            runs["throttled"]["stall"] / runs["throttled"]["elapsed"], 4
        ),
        "stalled_window_ratio": round(stalled_rate / free_rate, 3) if free_rate else 0.0,
        "ops_fast": round(fast["ops"]),
        "ops_throttled": round(runs["throttled"]["ops"]),
        "stall_events_fast": int(fast["events"]),
    }
    table = Table(
        "Writes flat out vs at a quarter of that rate",
        [
            Column("phase"),
            Column("writes/s"),
            Column("stall time", "s"),
            Column("stall time", "% of run"),
            Column("stall events"),
        ],
    )
    for phase, r in runs.items():
        table.add(phase, r["ops"], r["stall"], 100 * r["stall"] / r["elapsed"], r["events"])
    bands = []
    for t, _, stall, _ in fast["windows"]:
        if stall > 0.01:
            bands.append(Band(t - 0.1, t))
    figure = Figure(
        "Write throughput over time, flat out (shaded: windows with stalls)",
        x_label="seconds",
        y_label="writes per second",
        series=[
            Series(
                "flat out", [w[0] for w in fast["windows"]], [w[1] * 10.0 for w in fast["windows"]]
            ),
            Series(
                "throttled",
                [w[0] for w in runs["throttled"]["windows"]],
                [w[1] * 10.0 for w in runs["throttled"]["windows"]],
            ),
        ],
        bands=bands[:200],
    )
    l0_figure = Figure(
        "L0 tables over time, flat out",
        x_label="seconds",
        y_label="L0 tables",
        series=[
            Series(
                "L0 tables",
                [w[0] for w in fast["windows"]],
                [float(w[3]) for w in fast["windows"]],
                style="step",
            )
        ],
        ref_lines=[RefLine(4, "slowdown"), RefLine(6, "stop")],
    )
    return Outcome(
        values,
        summary=f"flat out: {values['stall_fraction_fast']:.0%} of the time stalled; "
        f"throttled: {values['stall_fraction_throttled']:.0%}",
        tables=[table],
        figures=[figure, l0_figure],
    )
