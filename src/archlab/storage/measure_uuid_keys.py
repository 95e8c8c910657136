"""Codex 4.1 and 6.2: random UUIDv4 keys fragment a B+-tree; time-ordered IDs pack it.

The keys come from archlab's own ID generators (:mod:`archlab.ids`): RFC 9562 UUIDv4 and
UUIDv7, and ULIDs, with seeded entropy and a simulated clock that ticks one millisecond per
``ids_per_ms`` IDs, so a run is reproducible. Each key set is inserted into a fresh B+-tree
(:mod:`archlab.storage.btree`) whose buffer pool holds a fraction of the final tree; the
tree's counters give leaf splits, leaf fill, file size and page I/O. The judge holds UUIDv4
to Yao's ln 2 fill and each time-ordered kind to PostgreSQL's 90% rightmost split, then
compares file sizes and insert throughput against every time-ordered kind (none left out).
"""

from __future__ import annotations

import math
import random
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from archlab.ids import SeededEntropy, UlidGenerator, Uuid4Generator, Uuid7Generator
from archlab.lab import (
    Column,
    Context,
    Evidence,
    Figure,
    Judgement,
    Outcome,
    RefLine,
    Series,
    Table,
    Threshold,
    experiment,
    holds,
    nuanced,
    refuted,
)
from archlab.storage.btree import BTreeStore

LN2 = math.log(2)
KINDS = ("uuid4", "uuid7", "ulid")
TIME_ORDERED = ("uuid7", "ulid")

#: Yao (1978): random insertions leave B-tree pages ln 2 ≈ 69% full on average. Splits here go
#: by bytes, not entries, and quick trees have a few hundred leaves, so the band is ±5 points.
YAO_FILL_LOW = Threshold(
    LN2 - 0.05, "", "Yao 1978: ln 2 = 0.69 expected fill of random inserts, less 5 points"
)
YAO_FILL_HIGH = Threshold(
    LN2 + 0.05, "", "Yao 1978: ln 2 = 0.69 expected fill of random inserts, plus 5 points"
)
#: PostgreSQL (and archlab) split the rightmost leaf 90/10, so ascending keys fill leaves to
#: 90%; 85% leaves room for the last, partly filled leaf of each level.
PACKED_FILL = Threshold(0.85, "", "PostgreSQL's 90% rightmost-leaf split, less 5 points")
#: Fill 0.90 vs 0.69 predicts a 1.3x larger UUIDv4 index; UUIDv7 indexes were reported ~30%
#: smaller than v4 (docs/references.md §4.1–4.3). 1.2x is the least that shows it.
FILE_RATIO = Threshold(1.2, "x", "0.90/0.69 = 1.3x by fill; ~30% smaller v7 indexes reported")
#: Vondra (2018) measured UUIDv4 inserts at ~50% (SSD) of sequential ones once the index
#: outgrew memory; a quarter faster at the median is the least this experiment asks...
SPEEDUP = Threshold(1.25, "x", "Vondra 2018: v4 at ~50% of sequential (SSD); 1.25x at least")
#: ...and beyond the measured spread: the time-ordered kind's slowest repeat beats UUIDv4's
#: fastest.
SEPARATED = Threshold(1.0, "x", "measured spread: slowest time-ordered repeat beats fastest v4")
#: Below this on file size and on speed, the key order made no difference beyond noise.
NO_EFFECT = Threshold(1.05, "x", "5%: within the round-to-round spread of the insert rate")


@dataclass(frozen=True)
class KeyRun:
    """One key kind's tree after all inserts (medians over the repeats)."""

    inserts_per_s: float  # median
    slowest_per_s: float
    fastest_per_s: float
    leaf_fill: float
    file_bytes: int
    leaf_splits: int
    page_reads: int
    page_writes: int

    @property
    def rate_spread(self) -> float:
        """(fastest − slowest) / median of inserts/s over the repeats."""
        return (self.fastest_per_s - self.slowest_per_s) / self.inserts_per_s


@dataclass(frozen=True)
class UuidKeys:
    keys: int
    tree_over_pool: float  # final UUIDv4 tree pages / buffer-pool frames
    runs: dict[str, KeyRun]  # by kind: uuid4, uuid7, ulid

    def file_ratio(self, kind: str) -> float:
        return self.runs["uuid4"].file_bytes / self.runs[kind].file_bytes

    def speedup(self, kind: str) -> float:
        return self.runs[kind].inserts_per_s / self.runs["uuid4"].inserts_per_s

    def separation(self, kind: str) -> float:
        """``kind``'s slowest repeat over UUIDv4's fastest (> 1: faster in every pairing)."""
        return self.runs[kind].slowest_per_s / self.runs["uuid4"].fastest_per_s


def judge_uuid_keys(m: UuidKeys) -> Judgement:
    v4 = m.runs["uuid4"]
    fill_low = Evidence("UUIDv4 leaf fill", v4.leaf_fill, at_least=YAO_FILL_LOW)
    fill_high = Evidence("UUIDv4 leaf fill", v4.leaf_fill, at_most=YAO_FILL_HIGH)
    packed = [
        Evidence(f"{k} leaf fill", m.runs[k].leaf_fill, at_least=PACKED_FILL) for k in TIME_ORDERED
    ]
    sizes = [
        Evidence(f"file size, UUIDv4 / {k}", m.file_ratio(k), "x", at_least=FILE_RATIO)
        for k in TIME_ORDERED
    ]
    speeds = [
        Evidence(f"inserts/s, {k} / UUIDv4", m.speedup(k), "x", at_least=SPEEDUP)
        for k in TIME_ORDERED
    ]
    apart = [
        Evidence(f"{k} slowest / UUIDv4 fastest repeat", m.separation(k), "x", at_least=SEPARATED)
        for k in TIME_ORDERED
    ]
    text = (
        f"UUIDv4 left leaves {v4.leaf_fill:.0%} full (ln 2 = 69%), "
        + ", ".join(f"{k} {m.runs[k].leaf_fill:.0%}" for k in TIME_ORDERED)
        + "; the UUIDv4 file was "
        + ", ".join(f"{m.file_ratio(k):.2f}x {k}'s" for k in TIME_ORDERED)
        + "; inserts ran "
        + ", ".join(f"{m.speedup(k):.2f}x as fast with {k}" for k in TIME_ORDERED)
        + f" (tree {m.tree_over_pool:.0f}x its buffer pool)"
    )
    evidence = (fill_low, fill_high, *packed, *sizes, *speeds, *apart)
    if all(e.met for e in evidence):
        return holds(text, *evidence)
    worst_size = min(m.file_ratio(k) for k in TIME_ORDERED)
    worst_speed = min(m.speedup(k) for k in TIME_ORDERED)
    if worst_size < NO_EFFECT.value and worst_speed < NO_EFFECT.value:
        return refuted(
            text + ": key order changed neither the index size nor the insert rate",
            Evidence("least file ratio", worst_size, "x", at_most=NO_EFFECT),
            Evidence("least speed-up", worst_speed, "x", at_most=NO_EFFECT),
        )
    return nuanced(text, *evidence)


@experiment(
    id="storage.uuid_keys",
    section="6.2",
    title="Random UUID keys fragment a B+-tree",
    claim="""Random (UUIDv4) keys land on random leaves, so B-tree pages split half-empty and
    settle near ln 2 ≈ 69% full, the index grows larger and inserts slow down once it outgrows
    memory, while time-ordered keys (UUIDv7, ULID, Snowflake) append to the rightmost leaf and
    pack pages nearly full (codex 4.1 and 6.2).""",
    method="""The same number of 16-byte keys from archlab.ids: UUIDv4, UUIDv7 and ULID
    (seeded entropy, a simulated clock ticking 1 ms per `ids_per_ms` IDs), each with a 100-byte
    value, inserted into a B+-tree with 4 KiB pages and a buffer pool of `frames` frames (a
    fraction of the final tree), sync=none with checkpoints. Measured: leaf splits per insert,
    average leaf fill, data file size, page reads and writes, insert throughput (median of
    repeats, the kinds' order rotating each repeat).""",
    judge=judge_uuid_keys,
    rule="""holds when UUIDv4 leaf fill is within ln 2 ± 0.05 (Yao 1978), UUIDv7 and ULID fill
    at least 0.85 (PostgreSQL's 90% rightmost split), the UUIDv4 file is at least 1.2x each
    time-ordered kind's (0.90/0.69 = 1.3x; ~30% smaller v7 indexes reported) and each
    time-ordered kind inserts at least 1.25x as fast at the median (Vondra 2018: v4 at ~50% of
    sequential) with its slowest repeat beating UUIDv4's fastest (beyond the spread);
    refuted when against some time-ordered kind both the file ratio and the speed-up stay
    under 1.05x (its order made no difference beyond noise); nuanced otherwise.""",
    profiles={
        "quick": {"keys": 12000, "frames": 128, "repeats": 2, "ids_per_ms": 50},
        "full": {"keys": 300000, "frames": 2048, "repeats": 3, "ids_per_ms": 50},
    },
    references=[
        "Yao (1978): random insertion leaves B-tree pages ~69% (ln 2) full; PostgreSQL splits "
        "the rightmost leaf 90/10 (docs/references.md §4.1–4.3).",
        "T. Vondra (2018): random UUIDv4 inserts fell to ~20% (HDD) / ~50% (SSD) of sequential "
        "throughput; UUIDv7 indexes ~30% smaller than v4 (docs/references.md §4.1–4.3).",
    ],
)
def uuid_keys(ctx: Context) -> Outcome[UuidKeys]:
    p = ctx.params
    n, frames, repeats = int(p["keys"]), int(p["frames"]), int(p["repeats"])
    keysets = {kind: generate(kind, n, ctx.rng(kind), int(p["ids_per_ms"])) for kind in KINDS}
    value = bytes(100)
    stats: dict[str, list[dict[str, float]]] = {k: [] for k in KINDS}
    with ctx.progress.task("UUIDv4 vs UUIDv7 vs ULID", repeats * len(KINDS)) as task:
        for r in range(repeats):
            for kind in KINDS[r % len(KINDS) :] + KINDS[: r % len(KINDS)]:
                path = str(ctx.scratch / f"uuid-{kind}-{r}")
                store = BTreeStore(path, "none", frames=frames)
                started = time.perf_counter()
                for key in keysets[kind]:
                    store.put(key, value)
                store.checkpoint()
                elapsed = time.perf_counter() - started
                st = store.stats()
                store.close()
                shutil.rmtree(path, ignore_errors=True)
                stats[kind].append({**st, "ops": n / elapsed})
                task.advance()
    runs = {kind: _median_run(rs) for kind, rs in stats.items()}
    pages = statistics.median(float(r["pages"]) for r in stats["uuid4"])
    measured = UuidKeys(keys=n, tree_over_pool=round(pages / frames, 2), runs=runs)
    table = Table(
        f"{n} inserts of 16-byte keys and 100-byte values, {frames}-frame buffer pool",
        [
            Column("keys"),
            Column("inserts/s"),
            Column("spread over repeats", "%"),
            Column("leaf splits per 1000 inserts"),
            Column("average leaf fill", "%"),
            Column("data file", "MiB"),
            Column("page reads"),
            Column("page writes"),
        ],
        note=f"The UUIDv4 tree ended {measured.tree_over_pool:.0f}x the size of its buffer pool.",
    )
    for kind, run in runs.items():
        table.add(
            kind,
            run.inserts_per_s,
            100 * run.rate_spread,
            1000 * run.leaf_splits / n,
            100 * run.leaf_fill,
            run.file_bytes / 2**20,
            run.page_reads,
            run.page_writes,
        )
    figure = Figure(
        "Average leaf fill",
        y_label="fill",
        series=[Series("leaf fill", list(runs), [r.leaf_fill for r in runs.values()], style="bar")],
        ref_lines=[RefLine(LN2, "ln 2 (Yao)"), RefLine(0.9, "PostgreSQL rightmost split 90%")],
    )
    return Outcome(
        measured,
        summary=f"UUIDv4 leaves {runs['uuid4'].leaf_fill:.0%} full vs UUIDv7 "
        f"{runs['uuid7'].leaf_fill:.0%}, ULID {runs['ulid'].leaf_fill:.0%}; file "
        f"{measured.file_ratio('uuid7'):.2f}x; UUIDv7 inserts {measured.speedup('uuid7'):.2f}x "
        "as fast",
        tables=[table],
        figures=[figure],
    )


def generate(kind: str, n: int, rng: random.Random, ids_per_ms: int) -> list[bytes]:
    """``n`` IDs of ``kind`` in their 16-byte binary form, in the order they were issued."""
    issued = 0

    def clock() -> int:  # a simulated clock: one millisecond per ``ids_per_ms`` IDs
        return 1_700_000_000_000 + issued // ids_per_ms

    entropy = SeededEntropy(rng)
    new: Callable[[], bytes]
    if kind == "uuid4":
        uuid4 = Uuid4Generator(entropy=entropy)
        new = lambda: uuid4.new().bytes  # noqa: E731
    elif kind == "uuid7":
        uuid7 = Uuid7Generator(clock=clock, entropy=entropy)
        new = lambda: uuid7.new().bytes  # noqa: E731
    elif kind == "ulid":
        ulid = UlidGenerator(clock=clock, entropy=entropy)
        new = lambda: ulid.new().to_bytes16()  # noqa: E731
    else:
        raise ValueError(f"key kind {kind!r}: expected one of {', '.join(KINDS)}")
    keys = []
    for _ in range(n):
        keys.append(new())
        issued += 1
    return keys


def _median_run(runs: list[dict[str, float]]) -> KeyRun:
    def med(key: str) -> float:
        return statistics.median(float(r[key]) for r in runs)

    rates = [r["ops"] for r in runs]
    return KeyRun(
        inserts_per_s=round(statistics.median(rates), 1),
        slowest_per_s=round(min(rates), 1),
        fastest_per_s=round(max(rates), 1),
        leaf_fill=round(med("avg_leaf_fill"), 4),
        file_bytes=int(med("file_bytes")),
        leaf_splits=int(med("leaf_splits")),
        page_reads=int(med("page_reads")),
        page_writes=int(med("page_writes")),
    )
