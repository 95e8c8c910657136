"""Codex 4.1: Bloom filters spare an LSM tree's reads of tables that lack the key.

Two LSM trees (:mod:`archlab.storage.lsm`) hold the same keys over several SSTables, one with
10-bit-per-key filters, one without; lookups of absent keys inside the tables' key ranges
count the tables actually read. Separately, single filters (:mod:`archlab.storage.bloom`) at
1–16 bits per key are probed with keys not in them, and the false-positive rate is held
against (1 − e^(−kn/m))^k.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass

from archlab.lab import (
    Column,
    Context,
    Evidence,
    Figure,
    Judgement,
    Outcome,
    Series,
    Table,
    Threshold,
    experiment,
    holds,
    nuanced,
    refuted,
)
from archlab.storage.bloom import BloomFilter, optimal_hashes, theoretical_fp_rate
from archlab.storage.lsm import LSMStore

BITS = (1, 2, 4, 6, 8, 10, 12, 16)

#: About 1% false positives at 10 bits per key (theory 0.82% with k = 7): a lookup reads that
#: share of the tables it would otherwise read. 2% is 1% plus its sampling error and more.
TABLES_READ = Threshold(
    0.02, "", "~1% at 10 bits/key, theory 0.82% (docs/references.md §4.1–4.3); 2% with margin"
)
#: Filters that let half the tables through have not spared reads in any useful sense.
FILTER_USELESS = Threshold(0.5, "", "half the tables still read: the filter spared little")
#: A measured rate from at least 100 expected false positives has a relative standard error of
#: at most 1/√100 = 10%; three of them bound the agreement with the formula.
FORMULA_ERROR = Threshold(0.3, "", "3 standard errors of a rate from >= 100 expected hits")
#: Off by more than 2x, the formula does not describe the filter.
FORMULA_WRONG = Threshold(1.0, "", "measured rate off the formula by more than 2x")
#: Skipping tables must show in latency, beyond the timing noise of one run.
LATENCY_GAIN = Threshold(1.2, "x", "skipped table reads must show beyond ~20% timing noise")


@dataclass(frozen=True)
class FilterPoint:
    bits_per_key: int
    hashes: int
    measured: float
    theory: float
    expected_hits: float  # theory × probes: how well the rate is estimated


@dataclass(frozen=True)
class LookupRun:
    tables: int
    tables_read_per_lookup: float
    latency_us: float
    filter_negatives: int
    false_positives: int


@dataclass(frozen=True)
class BloomFilters:
    with_filter: LookupRun
    without_filter: LookupRun
    curve: list[FilterPoint]

    @property
    def share_read(self) -> float:
        """Tables read per absent lookup with filters, over the tables read without."""
        return self.with_filter.tables_read_per_lookup / self.without_filter.tables_read_per_lookup

    @property
    def latency_ratio(self) -> float:
        return self.without_filter.latency_us / self.with_filter.latency_us

    @property
    def worst_formula_error(self) -> float:
        """Largest |measured − theory| / theory among well-estimated points (>= 100 hits)."""
        errors = [
            abs(p.measured - p.theory) / p.theory for p in self.curve if p.expected_hits >= 100
        ]
        return max(errors, default=float("nan"))


def judge_bloom(m: BloomFilters) -> Judgement:
    share = Evidence("tables read with filters / without", m.share_read, at_most=TABLES_READ)
    formula = Evidence(
        "worst |measured − formula| / formula", m.worst_formula_error, at_most=FORMULA_ERROR
    )
    latency = Evidence(
        "absent-key latency, without / with", m.latency_ratio, "x", at_least=LATENCY_GAIN
    )
    text = (
        f"absent-key lookups read {m.with_filter.tables_read_per_lookup:.3f} tables with "
        f"10 bits/key vs {m.without_filter.tables_read_per_lookup:.2f} without "
        f"({m.share_read:.2%}), {m.latency_ratio:.1f}x faster; measured false-positive rates "
        f"within {m.worst_formula_error:.0%} of (1 − e^(−kn/m))^k"
    )
    if m.share_read >= FILTER_USELESS.value or m.worst_formula_error > FORMULA_WRONG.value:
        return refuted(
            text,
            Evidence("tables read with filters / without", m.share_read, at_most=FILTER_USELESS),
            Evidence(
                "worst |measured − formula| / formula", m.worst_formula_error, at_most=FORMULA_WRONG
            ),
        )
    if share.met and formula.met and latency.met:
        return holds(text, share, formula, latency)
    return nuanced(text, share, formula, latency)


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
    them to measure the false-positive rate against the formula; only points with at least
    100 expected false positives are compared.""",
    judge=judge_bloom,
    rule="""refuted when lookups with filters still read at least half the tables read without
    them, or a measured false-positive rate is off the formula by more than 2x; holds when they
    read at most 2% of them (about 1% at 10 bits/key, theory 0.82%), every well-estimated rate
    is within 30% of the formula (3 standard errors at >= 100 expected hits) and absent-key
    lookups are at least 1.2x faster; nuanced otherwise.""",
    profiles={
        "quick": {"keys": 20000, "lookups": 5000, "filter_keys": 10000, "filter_probes": 20000},
        "full": {"keys": 300000, "lookups": 50000, "filter_keys": 100000, "filter_probes": 400000},
    },
    references=[
        "About 1% false positives at 10 bits per key; theory 0.82% with k = 7; "
        "FP = (1 − e^(−kn/m))^k (docs/references.md §4.1–4.3).",
    ],
)
def bloom_filters(ctx: Context) -> Outcome[BloomFilters]:
    p = ctx.params
    n = int(p["keys"])
    rng = ctx.rng("keys")
    keys = [b"key%012d" % (2 * i) for i in rng.sample(range(10**9), n)]
    absent = [b"key%012d" % (2 * rng.randrange(10**9) + 1) for _ in range(int(p["lookups"]))]
    with_filter = _lookups(ctx, keys, absent, 10.0)
    without_filter = _lookups(ctx, keys, absent, 0.0)
    curve = _fp_curve(int(p["filter_keys"]), int(p["filter_probes"]))
    measured = BloomFilters(with_filter, without_filter, curve)
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
    for label, run in (("10 bits/key", with_filter), ("no filter", without_filter)):
        lookup.add(
            label,
            run.tables,
            run.tables_read_per_lookup,
            run.latency_us,
            run.filter_negatives,
            run.false_positives,
        )
    table = Table(
        f"False-positive rate of one filter of {p['filter_keys']} keys, "
        f"{p['filter_probes']} absent probes",
        [
            Column("bits per key"),
            Column("hashes k"),
            Column("measured", "%"),
            Column("theory (1 − e^(−kn/m))^k", "%"),
            Column("measured / theory", "x"),
            Column("expected false positives"),
        ],
        note="Points with fewer than 100 expected false positives are shown, not judged.",
    )
    for pt in curve:
        table.add(
            pt.bits_per_key,
            pt.hashes,
            100 * pt.measured,
            100 * pt.theory,
            pt.measured / pt.theory,
            round(pt.expected_hits),
        )
    bits = [float(pt.bits_per_key) for pt in curve]
    figure = Figure(
        "Bloom filter false-positive rate",
        x_label="bits per key",
        y_label="false-positive rate (log scale)",
        log_y=True,
        series=[
            Series("measured", bits, [max(pt.measured, 1e-6) for pt in curve], style="scatter"),
            Series("(1 − e^(−kn/m))^k", bits, [pt.theory for pt in curve]),
        ],
    )
    at10 = next(pt for pt in curve if pt.bits_per_key == 10)
    return Outcome(
        measured,
        summary=f"{with_filter.tables_read_per_lookup:.3f} vs "
        f"{without_filter.tables_read_per_lookup:.2f} tables read per absent lookup; FP "
        f"{at10.measured:.2%} at 10 bits/key (theory {at10.theory:.2%})",
        tables=[lookup, table],
        figures=[figure],
    )


def _lookups(ctx: Context, keys: list[bytes], absent: list[bytes], bits: float) -> LookupRun:
    path = str(ctx.scratch / f"bloom-{bits:g}")
    store = LSMStore(
        path, "none", bloom_bits_per_key=bits, memtable_bytes=256 << 10, background=False
    )
    try:
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
    finally:
        store.close()
        shutil.rmtree(path, ignore_errors=True)
    return LookupRun(
        tables=tables,
        tables_read_per_lookup=round(
            (after["tables_probed"] - before["tables_probed"]) / len(absent), 5
        ),
        latency_us=round(elapsed / len(absent) * 1e6, 3),
        filter_negatives=after["bloom_negatives"] - before["bloom_negatives"],
        false_positives=after["bloom_false_positives"] - before["bloom_false_positives"],
    )


def _fp_curve(n: int, probes: int) -> list[FilterPoint]:
    members = [b"m%d" % i for i in range(n)]
    outsiders = [b"o%d" % i for i in range(probes)]
    points = []
    for bits in BITS:
        bloom = BloomFilter.build(members, n, bits)
        measured = sum(map(bloom.may_contain, outsiders)) / probes
        theory = theoretical_fp_rate(bits)
        points.append(
            FilterPoint(
                bits_per_key=bits,
                hashes=optimal_hashes(bits),
                measured=round(measured, 6),
                theory=round(theory, 6),
                expected_hits=round(theory * probes, 1),
            )
        )
    return points
