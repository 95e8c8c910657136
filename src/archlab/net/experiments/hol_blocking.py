"""``net.hol_blocking`` (codex 3.3): does one lost packet stall every stream over an ordered
byte stream and only its own over QUIC, and at which loss rate does that matter?

Deterministic: aioquic's sans-IO connections over a simulated link on a virtual clock
(:mod:`archlab.net.hol`), each loss pattern replayed against both variants.
"""

from __future__ import annotations

import statistics
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
from archlab.net.hol import VARIANTS, run_streams
from archlab.net.quic_link import loss_pattern

#: The paired ordered/QUIC ratio of mean completion spreads by about ±4% between seeds at 1-5%
#: loss; 10% is well above that noise and a wait a user of the page would notice.
MATTERS = Threshold(
    1.10, "x", "10%: above the ±4% seed-to-seed range of the paired ratio at 1-5% loss"
)
#: Codex 3.3 says HOL blocking negates multiplexing "on unreliable networks" without a rate;
#: this experiment takes 2% loss as the edge of that (stated here, not a published figure).
UNRELIABLE = Threshold(0.02, "", "codex 3.3 names no loss rate; 2% is this experiment's reading")
#: One lost packet: QUIC should hold back at most the stream it carried (1, sometimes 2 when
#: a packet carries frames of two streams); an ordered stream at least two.
OWN_STREAM = Threshold(1.5, "streams", "a lost packet carries one stream's bytes (two at most)")
SHARED = Threshold(2.0, "streams", "HOL: more than the one stream whose bytes were lost")


@dataclass(frozen=True)
class LossPoint:
    loss_rate: float
    quic_mean_ms: float
    ordered_mean_ms: float
    ratio: float  # median over seeds of ordered / quic mean completion (paired)
    ratio_low: float
    ratio_high: float


@dataclass(frozen=True)
class HolMeasurement:
    #: variant: mean over drop positions of the streams released together (late, same instant)
    streams_delayed_per_loss: dict[str, float]
    points: list[LossPoint]
    matters_at: float  # smallest loss rate with ratio >= 1.1; -1 if none


def judge_hol_blocking(m: HolMeasurement) -> Judgement:
    quic = Evidence(
        "streams held back by one lost packet, QUIC",
        m.streams_delayed_per_loss["quic"],
        "streams",
        at_most=OWN_STREAM,
    )
    ordered = Evidence(
        "streams held back by one lost packet, one ordered stream",
        m.streams_delayed_per_loss["ordered"],
        "streams",
        at_least=SHARED,
    )
    worst = max(m.points, key=lambda p: p.ratio)
    within = [p for p in m.points if p.loss_rate <= UNRELIABLE.value]
    best_within = max(within, key=lambda p: p.ratio) if within else worst
    matters = Evidence(
        f"ordered / QUIC mean completion at {best_within.loss_rate:.1%} loss",
        best_within.ratio,
        "x",
        at_least=MATTERS,
    )
    text = (
        f"one lost packet held back {m.streams_delayed_per_loss['ordered']:.1f} streams over one "
        f"ordered stream and {m.streams_delayed_per_loss['quic']:.1f} over QUIC; mean completion "
        f"ordered/QUIC peaked at {worst.ratio:.2f}x ({worst.loss_rate:.1%} loss)"
    )
    if not (quic.met and ordered.met):
        return refuted(text + ": the stall did not follow the ordering", quic, ordered)
    if m.matters_at >= 0 and m.matters_at <= UNRELIABLE.value:
        return holds(
            text + f"; the difference matters (≥ 1.1x) from {m.matters_at:.1%} loss",
            quic,
            ordered,
            matters,
        )
    where = (
        f"only from {m.matters_at:.1%} loss" if m.matters_at >= 0 else "at no loss rate measured"
    )
    return nuanced(
        text + f"; the mechanism is as claimed, but the mean completion differs by ≥ 10% {where}: "
        "loss recovery and congestion control, which QUIC shares, cost more than the stall",
        quic,
        ordered,
        matters,
    )


def released_together(completion_ms: list[float], lossless_ms: list[float]) -> int:
    """The most streams that finished late *at the same instant*: held back by one missing
    packet and released together by its retransmission (slowed by congestion control alone,
    streams finish late at different times)."""
    late = [round(c, 3) for c, b in zip(completion_ms, lossless_ms, strict=True) if c > b + 1.0]
    return max((late.count(t) for t in late), default=0)


@experiment(
    id="net.hol_blocking",
    section="3.3",
    title="Head-of-line blocking: HTTP/2-style over one ordered stream vs QUIC streams",
    claim="""Over TCP a single lost packet halts delivery of all multiplexed streams until it is
    retransmitted, negating multiplexing on unreliable networks; QUIC delivers each stream
    independently, so a loss stalls only its own stream.""",
    method="""aioquic's sans-IO QuicConnection pairs on a virtual clock over a simulated link
    (20 ms one way, 20 Mbit/s) with seeded packet loss. The client fetches N responses of
    growing size either as N QUIC streams or as packet-sized HTTP/2-style frames interleaved in
    one QUIC stream (an ordered byte stream like TCP), on the same transport, so the same loss
    recovery and congestion control apply and each loss pattern is replayed against both.
    First single packets are dropped at several positions and the streams that finish late at
    the same instant (held back by that packet, released by its retransmission) are counted;
    then per-stream completion times are compared over loss rates and seeds (paired ratios,
    median and range).""",
    judge=judge_hol_blocking,
    rule="""refuted unless one lost packet holds back at most 1.5 streams over QUIC and at least
    2 over the ordered stream; then holds when the ordered/QUIC mean completion reaches 1.1x at
    a loss rate of 2% or less, nuanced otherwise (the mechanism is real but does not matter at
    the rates measured).""",
    profiles={
        "quick": {"streams": 8, "kib": 64, "seeds": 3, "rates": "0,0.01,0.02,0.05", "drops": 5},
        "full": {
            "streams": 8,
            "kib": 64,
            "seeds": 20,
            "rates": "0,0.005,0.01,0.02,0.03,0.05",
            "drops": 20,
        },
    },
    references=[
        "Codex 3.3 on TCP head-of-line blocking and QUIC's independent streams; Langley et al., "
        "The QUIC Transport Protocol, SIGCOMM 2017 (docs/references.md §3).",
    ],
)
def hol_blocking(ctx: Context) -> Outcome[HolMeasurement]:
    p = ctx.params
    streams, size = int(p["streams"]), int(p["kib"]) * 1024
    rates = [float(r) for r in str(p["rates"]).split(",")]
    seeds, drops = int(p["seeds"]), int(p["drops"])
    with ctx.progress.task(
        "single losses and loss rates", 2 + 2 * drops + 2 * len(rates) * seeds
    ) as task:
        base = {}
        for v in VARIANTS:
            base[v] = run_streams(v, streams=streams, size=size).completion_ms
            task.advance()
        sent = 10 + int(size * streams * (1 + 1 / streams) / 2 / 1150)  # data datagrams, roughly
        # past slow start (the first third), where a loss's effect on the window is smaller
        positions = [sent // 3 + (sent - sent // 3) * k // drops for k in range(drops)]
        delayed: dict[str, list[int]] = {v: [] for v in VARIANTS}
        for pos in positions:
            for v in VARIANTS:
                run = run_streams(v, streams=streams, size=size, down_drops=frozenset({pos}))
                delayed[v].append(released_together(run.completion_ms, base[v]))
                task.advance()
        points = []
        for rate in rates:
            ratios: list[float] = []
            means: dict[str, list[float]] = {v: [] for v in VARIANTS}
            for seed in range(seeds):
                rng_down, rng_up = ctx.rng(f"down-{rate}-{seed}"), ctx.rng(f"up-{rate}-{seed}")
                down, up = loss_pattern(rng_down, rate), loss_pattern(rng_up, rate)
                pair = {}
                for v in VARIANTS:
                    run = run_streams(v, streams=streams, size=size, down_drops=down, up_drops=up)
                    pair[v] = statistics.mean(run.completion_ms)
                    means[v].append(pair[v])
                    task.advance()
                ratios.append(pair["ordered"] / pair["quic"])
            points.append(
                LossPoint(
                    loss_rate=rate,
                    quic_mean_ms=round(statistics.median(means["quic"]), 2),
                    ordered_mean_ms=round(statistics.median(means["ordered"]), 2),
                    ratio=round(statistics.median(ratios), 4),
                    ratio_low=round(min(ratios), 4),
                    ratio_high=round(max(ratios), 4),
                )
            )
    matters = [pt.loss_rate for pt in points if pt.ratio >= MATTERS.value]
    measured = HolMeasurement(
        streams_delayed_per_loss={v: round(statistics.mean(d), 3) for v, d in delayed.items()},
        points=points,
        matters_at=min(matters) if matters else -1.0,
    )
    table = Table(
        "Mean per-stream completion (median over seeds)",
        [
            Column("loss", "%"),
            Column("QUIC streams", "ms"),
            Column("one ordered stream", "ms"),
            Column("ordered / QUIC", "x"),
            Column("min", "x"),
            Column("max", "x"),
        ],
    )
    for pt in points:
        table.add(
            100 * pt.loss_rate,
            pt.quic_mean_ms,
            pt.ordered_mean_ms,
            pt.ratio,
            pt.ratio_low,
            pt.ratio_high,
        )
    single = Table(
        "One lost packet: streams finishing later than without loss",
        [Column("drop at datagram"), Column("QUIC"), Column("ordered")],
    )
    for i, pos in enumerate(positions):
        single.add(pos, delayed["quic"][i], delayed["ordered"][i])
    figure = Figure(
        "Mean per-stream completion vs loss",
        x_label="loss rate (%)",
        y_label="ms",
        series=[
            Series(
                "QUIC streams",
                [100 * pt.loss_rate for pt in points],
                [pt.quic_mean_ms for pt in points],
            ),
            Series(
                "one ordered stream",
                [100 * pt.loss_rate for pt in points],
                [pt.ordered_mean_ms for pt in points],
            ),
        ],
    )
    return Outcome(
        measured,
        summary=f"one loss stalls {measured.streams_delayed_per_loss['ordered']:.1f} streams "
        f"(ordered) vs {measured.streams_delayed_per_loss['quic']:.1f} (QUIC); ≥ 1.1x slower "
        + (f"from {measured.matters_at:.1%} loss" if matters else "at no loss rate measured"),
        tables=[single, table],
        figures=[figure],
    )
