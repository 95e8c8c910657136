"""Codex 10.3 measured: how much peak-hour backbone traffic predictive off-peak fill saves."""

from __future__ import annotations

from dataclasses import dataclass

from archlab.cases.openconnect.model import PEAK_HOURS, FillConfig, FillResult, simulate
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

#: Push must take a clear share of the peak off the backbone: 20% is above the few-percent
#: spread between seeds of this simulation. Seeds 0-9 of the quick profile measured
#: 1.21-1.30x (median 1.26x): the claim holds on each, with seed 1 within 1% of the bound.
PEAK_CUT = Threshold(
    1.2,
    "x",
    "codex 10.3 (off-peak push keeps the backbone out of the peak) made a number: 20% less "
    "peak upstream, above the ±4% spread (1.21-1.30x) over seeds 0-9 of this simulation",
)
#: At or below parity, pushing predictions buys nothing at peak over caching on demand.
PARITY = Threshold(1.0, "x", "push no better than pull at peak")


@dataclass(frozen=True)
class FillPoint:
    cache_share: float
    noise: float  # forecast log-normal sigma; -1 marks pull (no forecast)
    strategy: str
    hit_ratio: float
    peak_upstream_share: float  # peak-hour upstream bytes / bytes viewed in the day
    off_peak_share: float  # share of all upstream bytes inside the fill window
    fill_share: float  # share of all upstream bytes that were proactive off-peak fill


@dataclass(frozen=True)
class OpenConnectMeasurement:
    judged_noise: float
    points: list[FillPoint]
    peak_cut: dict[str, float]  # per cache size "cs10" -> pull peak / push peak at judged noise


def _key(share: float) -> str:
    return f"cs{round(share * 100)}"


def judge_open_connect_fill(m: OpenConnectMeasurement) -> Judgement:
    cuts = m.peak_cut
    worst_key = min(cuts, key=lambda k: cuts[k])
    best_key = max(cuts, key=lambda k: cuts[k])
    worst = Evidence(
        f"peak upstream, pull / push, forecast sigma {m.judged_noise}, cache {worst_key[2:]}%",
        cuts[worst_key],
        "x",
        at_least=PEAK_CUT,
    )
    push = [p for p in m.points if p.strategy == "push" and p.noise == m.judged_noise]
    pull = [p for p in m.points if p.strategy == "pull"]
    fill = max(p.fill_share for p in push)
    saved = 1 - 1 / cuts[worst_key] if cuts[worst_key] > 0 else 0.0
    text = (
        "pushing the forecast top titles off-peak cut peak-hour upstream "
        + ", ".join(f"{cuts[k]:.2f}x at a {k[2:]}% cache" for k in cuts)
        + f" vs pull (forecast sigma {m.judged_noise}); push hit "
        + ", ".join(f"{p.hit_ratio:.0%}" for p in push)
        + " vs pull "
        + ", ".join(f"{p.hit_ratio:.0%}" for p in pull)
        + f"; push's peak-hour upstream was at least {saved:.0%} below pull's, and its own "
        + f"fetches (the fill, up to {fill:.0%} of its upstream bytes) all ran off-peak, where "
        + f"pull fetches on demand ({max(p.off_peak_share for p in pull):.0%} of its bytes in "
        + "the window hours)"
    )
    if worst.met:
        return holds(text, worst)
    if cuts[best_key] <= PARITY.value:
        best = Evidence(
            f"peak upstream, pull / push, cache {best_key[2:]}%",
            cuts[best_key],
            "x",
            at_most=PARITY,
        )
        return refuted(text + ": push never beat pull at peak", best)
    return nuanced(text + ": not at every cache size", worst)


@experiment(
    id="cases.open_connect_fill",
    section="10.3",
    title="Open Connect: predictive off-peak fill",
    claim="""By predictively pushing content to its ISP-embedded appliances during off-peak
    hours, based on regional popularity models, Netflix serves the vast majority of streaming
    traffic from the ISP's own network and keeps it off the congested backbone at peak.""",
    method="""An hour-by-hour simulation of one appliance: a catalogue with Zipf(0.9)
    popularity and 2% daily churn (new releases enter near the top), a diurnal demand curve
    peaking 19:00-23:00, and an appliance holding a share of the catalogue's bytes. Pull: LRU,
    misses fetched from upstream when asked for. Push: a 12 h fill window from 02:00 loads the
    forecast top titles at a capped rate (5% of the appliance per hour); the forecast is the
    true next-day popularity times log-normal noise. Both see the same catalogue, churn and
    views (separate seeded streams). Measured after two warm-up days: byte hit ratio,
    peak-hour upstream bytes, and the share of upstream bytes inside the fill window.""",
    judge=judge_open_connect_fill,
    rule="""holds when, with the judged forecast quality (log-normal sigma 0.5), push cuts
    peak-hour upstream bytes at least 1.2x below pull at every cache size simulated (20% is
    above the seed-to-seed spread); refuted when push is no better than pull at peak at any
    size; nuanced when it is at some sizes only. Worse forecasts are simulated and reported
    beside it.""",
    profiles={
        "quick": {
            "titles": 1500,
            "views_per_day": 12000,
            "days": 5,
            "cache_shares": [0.1, 0.3],
            "noises": [0.0, 0.5, 2.0],
            "judged_noise": 0.5,
        },
        "full": {
            "titles": 4000,
            "views_per_day": 60000,
            "days": 10,
            "cache_shares": [0.05, 0.1, 0.3, 0.5],
            "noises": [0.0, 0.25, 0.5, 1.0, 2.0],
            "judged_noise": 0.5,
        },
    },
    references=[
        "Netflix Open Connect: appliances embedded in ISPs, filled proactively in an off-peak "
        "window from popularity predictions, with fill rates capped per appliance "
        "(docs/references.md §10).",
    ],
)
def open_connect_fill(ctx: Context) -> Outcome[OpenConnectMeasurement]:
    p = ctx.params
    noises = [float(n) for n in p["noises"]]
    judged = float(p["judged_noise"])
    if judged not in noises:
        noises.append(judged)
    shares = [float(s) for s in p["cache_shares"]]
    points: list[FillPoint] = []
    cuts: dict[str, float] = {}
    with ctx.progress.task("appliances", len(shares) * (len(noises) + 1)) as task:
        for share in shares:
            base = FillConfig(
                titles=int(p["titles"]),
                views_per_day=int(p["views_per_day"]),
                days=int(p["days"]),
                cache_share=share,
            )
            pull = simulate(base, "pull", ctx.seed)
            points.append(_point(share, -1.0, pull))
            task.advance()
            for noise in noises:
                config = FillConfig(**{**base.__dict__, "noise": noise})
                push = simulate(config, "push", ctx.seed)
                points.append(_point(share, noise, push))
                if noise == judged:
                    cuts[_key(share)] = round(pull.peak_upstream / max(push.peak_upstream, 1e-9), 3)
                task.advance()
    measured = OpenConnectMeasurement(judged_noise=judged, points=points, peak_cut=cuts)
    table = Table(
        "One appliance, per day after warm-up",
        [
            Column("cache", "% of catalogue"),
            Column("fill"),
            Column("forecast sigma"),
            Column("byte hit ratio", "%"),
            Column(f"peak upstream ({PEAK_HOURS.start}:00-{PEAK_HOURS.stop}:00)", "% of viewed"),
            Column("upstream in fill window", "%"),
        ],
    )
    for pt in points:
        table.add(
            round(100 * pt.cache_share),
            pt.strategy,
            "" if pt.noise < 0 else pt.noise,
            100 * pt.hit_ratio,
            100 * pt.peak_upstream_share,
            100 * pt.off_peak_share,
        )
    figure = Figure(
        "Peak-hour upstream vs forecast quality",
        x_label="forecast noise (log-normal sigma)",
        y_label="peak-hour upstream, % of bytes viewed",
        series=[
            *(
                Series(
                    f"push, cache {round(100 * s)}%",
                    noises,
                    [
                        100 * pt.peak_upstream_share
                        for n in noises
                        for pt in points
                        if pt.cache_share == s and pt.noise == n and pt.strategy == "push"
                    ],
                )
                for s in shares
            ),
            *(
                Series(
                    f"pull, cache {round(100 * s)}%",
                    noises,
                    [
                        100
                        * next(
                            pt.peak_upstream_share
                            for pt in points
                            if pt.cache_share == s and pt.strategy == "pull"
                        )
                    ]
                    * len(noises),
                    style="bound",
                )
                for s in shares
            ),
        ],
    )
    return Outcome(
        measured,
        summary="peak upstream pull/push " + ", ".join(f"{v:.2f}x ({k})" for k, v in cuts.items()),
        tables=[table],
        figures=[figure],
    )


def _point(share: float, noise: float, result: FillResult) -> FillPoint:
    return FillPoint(
        cache_share=share,
        noise=noise,
        strategy=result.strategy,
        hit_ratio=round(result.hit_ratio, 4),
        peak_upstream_share=round(result.peak_upstream / result.viewed, 4),
        off_peak_share=round(result.off_peak_share, 4),
        fill_share=round(result.fill_share, 4),
    )
