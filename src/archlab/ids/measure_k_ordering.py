"""Codex 6.2: how time-ordered are IDs that many machines generate at once?

"Roughly time-ordered" is given a physical meaning here. Two machines whose clocks are each
within ± skew of true time disagree by at most 2·skew, and by 2·drift·T more after T of
drift; an ID's timestamp drops up to one unit of its resolution (1 ms, or 1 s for KSUID); the
network adds up to one log delay between creation and arrival. So when an ID's sort order
follows its timestamp, no ID can sort further from where it arrived (in arrival time) than

    bound = 2·skew + 2·drift·T + resolution + delay

(:func:`order_bound`; the proof is one line per term in the rule). A time-ordered scheme is
judged against that bound at every skew of the sweep: the tolerance scales with the skew
injected, a few times the skew at most, and not with the length of the run. UUIDv4 is judged
against what a random order looks like.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.ids.kordering import Disorder, disorder, merged_stream
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

TIME_ORDERED = ("snowflake", "ulid", "uuid7", "ksuid")
MILLISECOND = ("snowflake", "ulid", "uuid7")
KINDS = (*TIME_ORDERED, "uuid4")
LABEL = {
    "snowflake": "Snowflake",
    "ulid": "ULID",
    "uuid7": "UUIDv7",
    "ksuid": "KSUID",
    "uuid4": "UUIDv4",
}
#: The timestamp unit of each scheme (docs/references.md §6.1–6.2): Unix ms for Snowflake,
#: ULID and UUIDv7, whole seconds for KSUID.
RESOLUTION_MS = {"snowflake": 1.0, "ulid": 1.0, "uuid7": 1.0, "ksuid": 1000.0}

#: The largest time window over the physical bound (module doc): an ID that sorts by its
#: timestamp cannot exceed it, so anything above 1x means the order is not the timestamp's.
WITHIN_BOUND = Threshold(
    1.0, "x", "physical bound: 2·skew + 2·drift·T + timestamp resolution + log delay"
)
#: KSUID "coarser": its window exceeds the bound a millisecond scheme could reach at this skew.
COARSER = Threshold(1.0, "x", "the millisecond schemes' physical bound at the judged skew")
#: A random order has inversion fraction 0.5 with standard deviation about 1/(3·√n)
#: (Kendall's tau under independence), under 0.004 for n ≥ 8,000: 0.45 is > 10 sd below.
RANDOM_ORDER = Threshold(0.45, "", "random order: 0.5, sd ≈ 1/(3√n) < 0.004 at n ≥ 8,000")


@dataclass(frozen=True)
class SchemeDisorder:
    inversion_fraction: float
    max_displacement: int  # positions
    max_window_ms: float
    p99_window_ms: float


@dataclass(frozen=True)
class SkewRun:
    skew_ms: float
    duration_ms: float  # first to last arrival
    schemes: dict[str, SchemeDisorder]  # keyed by KINDS


@dataclass(frozen=True)
class KOrderingMeasurement:
    n: int
    skew_ms: float  # the skew the KSUID and UUIDv4 halves are judged at
    delay_ms: float
    drift: float
    runs: list[SkewRun]  # one per skew of the sweep, ascending


def order_bound(kind: str, run: SkewRun, delay_ms: float, drift: float) -> float:
    """The furthest (ms of arrival time) an ID of ``kind`` can sort from where it arrived."""
    drifted = 2 * drift * (run.duration_ms + delay_ms)
    return 2 * run.skew_ms + drifted + RESOLUTION_MS[kind] + delay_ms


def judge_k_ordering(m: KOrderingMeasurement) -> Judgement:
    judged = next(r for r in m.runs if r.skew_ms == m.skew_ms)
    worst: dict[str, tuple[float, SkewRun]] = {}
    for kind in TIME_ORDERED:
        worst[kind] = max(
            ((r.schemes[kind].max_window_ms / order_bound(kind, r, m.delay_ms, m.drift), r)
             for r in m.runs),
            key=lambda pair: pair[0],
        )  # fmt: skip
    bounded = [
        Evidence(
            f"{LABEL[k]}: largest window / bound (worst skew, ±{run.skew_ms:g} ms)",
            round(ratio, 3),
            "x",
            at_most=WITHIN_BOUND,
        )
        for k, (ratio, run) in worst.items()
    ]
    uuid4 = judged.schemes["uuid4"].inversion_fraction
    random_ev = Evidence("UUIDv4 inversion fraction", uuid4, "", at_least=RANDOM_ORDER)
    ms_bound = order_bound("snowflake", judged, m.delay_ms, m.drift)
    ksuid = judged.schemes["ksuid"].max_window_ms
    coarser = Evidence(
        f"KSUID window / millisecond bound at ±{m.skew_ms:g} ms",
        round(ksuid / ms_bound, 3),
        "x",
        at_least=COARSER,
    )
    evidence = (*bounded, random_ev, coarser)
    ms_window = max(judged.schemes[k].max_window_ms for k in MILLISECOND)
    text = (
        f"with ±{m.skew_ms:g} ms of clock skew, Snowflake, ULID and UUIDv7 sorted within "
        f"{ms_window:.0f} ms of arrival (bound {ms_bound:.0f} ms), KSUID within {ksuid:.0f} ms; "
        f"over skews {', '.join(f'±{r.skew_ms:g}' for r in m.runs)} ms the worst window was "
        + ", ".join(f"{LABEL[k]} {ratio:.2f}x" for k, (ratio, _) in worst.items())
        + f" of its bound; UUIDv4's inversion fraction was {uuid4:.3f} (0.5 is random)"
    )
    unordered = [LABEL[k] for k, e in zip(TIME_ORDERED, bounded, strict=True) if not e.met]
    if unordered:
        return refuted(
            f"{', '.join(unordered)} sorted further from arrival order than clock skew, drift, "
            f"resolution and delay allow, so its order is not its timestamp's: {text}",
            *evidence,
        )
    if not random_ev.met:
        return refuted(f"UUIDv4 came out close to time order: {text}", *evidence)
    if coarser.met:
        return holds(
            f"{text}; KSUID's one-second resolution makes it measurably coarser", *evidence
        )
    return nuanced(
        f"{text}; KSUID was not measurably coarser: at this skew the clocks, not its "
        "resolution, set the window of every time-based scheme",
        *evidence,
    )


@experiment(
    id="ids.k_ordering",
    section="6.2",
    title="How time-ordered are IDs from many machines?",
    claim="""Snowflake IDs (and ULIDs and KSUIDs, which start with a timestamp) are roughly
    time-ordered even when many machines generate them at once, so they sort close to creation
    order; random UUIDs (v4) have no order at all. KSUID counts whole seconds, so its ordering is
    coarser than that of the millisecond schemes.""",
    method="""Eight machines, each with its own generator of every scheme, its own clock offset
    (uniform within ± skew) and rate (within 1 ± drift), serve requests arriving as one Poisson
    stream; each ID reaches a central log after a random delay. Against the log's arrival order,
    measured: the fraction of inverted pairs (exact, O(n log n)), the largest displacement in
    positions, and the time window (how far in arrival time an ID sorts from where it arrived;
    max and 99th percentile). Repeated over a sweep of clock skews.""",
    judge=judge_k_ordering,
    rule="""For each time-ordered scheme and every skew of the sweep, the largest time window is
    divided by the physical bound 2·skew + 2·drift·T + resolution + delay (two clocks within
    ± skew differ by ≤ 2·skew; drift adds ≤ 2·drift·T over T; a timestamp drops < 1 unit, 1 ms
    or 1 s for KSUID; the log delay moves arrival by ≤ delay): refuted if any exceeds 1x (its
    order is not its timestamp's), or if UUIDv4's inversion fraction at the judged skew is
    under 0.45 (random: 0.5, sd ≈ 1/(3√n)). holds when, in addition, KSUID's window at the
    judged skew exceeds the millisecond schemes' bound (coarser than clocks alone explain);
    nuanced when it does not.""",
    ranges={"drift": (0.0, 0.5), "skew_ms": (0.0, None)},  # clock rates 1 ± drift
    profiles={
        "quick": {
            "n": 8_000,
            "machines": 8,
            "rate_per_s": 500.0,
            "skew_ms": 10.0,
            "skews_ms": [0.0, 10.0, 100.0, 1000.0],
            "drift": 1e-4,
            "delay_ms": 5.0,
        },
        "full": {
            "n": 100_000,
            "machines": 16,
            "rate_per_s": 2_000.0,
            "skew_ms": 10.0,
            "skews_ms": [0.0, 1.0, 10.0, 100.0, 1000.0, 5000.0],
            "drift": 1e-4,
            "delay_ms": 5.0,
        },
    },
    references=[
        "ULID: 48-bit Unix-ms time + 80 random bits; KSUID: 32-bit seconds since 1400000000 + "
        "128-bit payload; UUIDv7: 48-bit Unix ms (RFC 9562 §5.7); Snowflake: 41-bit ms since "
        "1288834974657 (docs/references.md §6.1–6.2).",
        "NTP keeps servers within a few to tens of milliseconds of each other over ordinary "
        "networks, the scale of the judged ±10 ms skew (docs/references.md §6.1–6.2).",
    ],
)
def k_ordering(ctx: Context) -> Outcome[KOrderingMeasurement]:
    p = ctx.params
    skews = sorted({float(s) for s in p["skews_ms"]} | {float(p["skew_ms"])})
    runs: list[SkewRun] = []
    raw: dict[tuple[str, float], Disorder] = {}
    with ctx.progress.task("k-ordering", len(skews) * len(KINDS)) as task:
        for skew in skews:
            duration = 0.0
            for kind in KINDS:
                ids, arrivals = merged_stream(
                    kind,
                    n=int(p["n"]),
                    machines=int(p["machines"]),
                    rate_per_s=float(p["rate_per_s"]),
                    skew_ms=skew,
                    drift=float(p["drift"]),
                    delay_ms=float(p["delay_ms"]),
                    rng=ctx.rng(f"stream-{kind}-{skew}"),
                )
                duration = max(duration, arrivals[-1] - arrivals[0])
                raw[(kind, skew)] = disorder(ids, arrivals)
                task.advance()
            runs.append(
                SkewRun(
                    skew_ms=skew,
                    duration_ms=round(duration, 1),
                    schemes={
                        k: SchemeDisorder(
                            inversion_fraction=round(raw[(k, skew)].inversion_fraction, 6),
                            max_displacement=raw[(k, skew)].max_displacement,
                            max_window_ms=round(raw[(k, skew)].max_window_ms, 2),
                            p99_window_ms=round(raw[(k, skew)].p99_window_ms, 2),
                        )
                        for k in KINDS
                    },
                )
            )
    judged = float(p["skew_ms"])
    measured = KOrderingMeasurement(
        n=int(p["n"]),
        skew_ms=judged,
        delay_ms=float(p["delay_ms"]),
        drift=float(p["drift"]),
        runs=runs,
    )
    at = next(r for r in runs if r.skew_ms == judged)
    main = Table(
        f"Disorder against arrival order, ±{judged:g} ms clock skew",
        [
            Column("scheme"),
            Column("inversion fraction"),
            Column("max displacement", "positions"),
            Column("max time window", "ms"),
            Column("p99 time window", "ms"),
            Column("physical bound", "ms"),
        ],
        note=f"{p['n']} IDs from {p['machines']} machines over {at.duration_ms / 1000:.1f} s; "
        f"log delay up to {p['delay_ms']} ms; clock rates within 1 ± {p['drift']}. Bound: "
        "2·skew + 2·drift·T + resolution + delay (none for UUIDv4).",
    )
    for kind in KINDS:
        d = at.schemes[kind]
        bound = (
            order_bound(kind, at, measured.delay_ms, measured.drift)
            if kind in RESOLUTION_MS
            else None
        )
        main.add(
            LABEL[kind],
            d.inversion_fraction,
            d.max_displacement,
            d.max_window_ms,
            d.p99_window_ms,
            "–" if bound is None else round(bound, 1),
        )
    sweep = Table(
        "Max time window by clock skew, as a share of each scheme's physical bound",
        [Column("skew", "± ms"), *[Column(LABEL[k], "ms (x bound)") for k in KINDS]],
    )
    for run in runs:
        cells: list[str] = []
        for k in KINDS:
            window = run.schemes[k].max_window_ms
            if k in RESOLUTION_MS:
                share = window / order_bound(k, run, measured.delay_ms, measured.drift)
                cells.append(f"{window:,.1f} ({share:.2f}x)")
            else:
                cells.append(f"{window:,.0f}")
        sweep.add(run.skew_ms, *cells)
    figure = Figure(
        "How far IDs sort from arrival order, by clock skew",
        x_label="clock skew between machines (± ms)",
        y_label="max time window (ms)",
        log_y=True,
        series=[
            Series(
                LABEL[k],
                [f"±{r.skew_ms:g}" for r in runs],
                [max(r.schemes[k].max_window_ms, 0.1) for r in runs],
                style="bar",
            )
            for k in KINDS
        ],
        caption="UUIDv4's window is the whole run; the others track skew, KSUID at least 1 s.",
    )
    return Outcome(
        measured,
        summary=(
            f"±{judged:g} ms skew: ms schemes sort within "
            f"{max(at.schemes[k].max_window_ms for k in MILLISECOND):.0f} ms, KSUID "
            f"{at.schemes['ksuid'].max_window_ms:.0f} ms, UUIDv4 inversion fraction "
            f"{at.schemes['uuid4'].inversion_fraction:.3f}"
        ),
        tables=[main, sweep],
        figures=[figure],
    )
