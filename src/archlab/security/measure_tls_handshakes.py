"""``security.tls_handshakes`` (codex 3.4): round trips before the first byte, measured."""

from __future__ import annotations

import asyncio
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
from archlab.security.handshakes import MODES, HandshakeBench, rtts_per_request

#: Round trips are whole numbers; a measured difference of half a round trip or more is one
#: round trip saved, less is none (the rounding bound, not a tuning knob).
ROUND_TRIP_SAVED = Threshold(0.5, "RTT", "half a round trip: the rounding bound between counts")
#: TLS 1.3's full handshake takes one round trip (codex 3.4): at most 1.5 after rounding.
ONE_RTT = Threshold(1.5, "RTT", "codex 3.4: TLS 1.3 handshake is 1-RTT (rounding bound)")
#: 0-RTT sends data in the first flight: no round trip before the request, at most 0.5.
ZERO_RTT = Threshold(0.5, "RTT", "codex 3.4: 0-RTT data rides in the first packet (rounding)")


@dataclass(frozen=True)
class TlsHandshakesMeasurement:
    """Fastest time to first byte per handshake and injected RTT, and the fitted slopes."""

    rtts_ms: list[float]
    ttfb_ms: dict[str, list[float]]
    rtts_per_request: dict[str, float]  # slope of time vs RTT: handshake + the request's own


def handshake_rtts(m: TlsHandshakesMeasurement, mode: str) -> float:
    """Round trips before the request can go: the slope less the request's own round trip."""
    return m.rtts_per_request[mode] - 1.0


def judge_tls_handshakes(m: TlsHandshakesMeasurement) -> Judgement:
    t12, t13 = handshake_rtts(m, "tls12"), handshake_rtts(m, "tls13")
    q1, q0 = handshake_rtts(m, "quic_1rtt"), handshake_rtts(m, "quic_0rtt")
    saved13 = Evidence(
        "TLS 1.2 - TLS 1.3 handshake", round(t12 - t13, 2), "RTT", at_least=ROUND_TRIP_SAVED
    )
    saved0 = Evidence(
        "1-RTT - 0-RTT handshake (aioquic)", round(q1 - q0, 2), "RTT", at_least=ROUND_TRIP_SAVED
    )
    one = Evidence("TLS 1.3 handshake", round(t13, 2), "RTT", at_most=ONE_RTT)
    zero = Evidence("0-RTT handshake before the request", round(q0, 2), "RTT", at_most=ZERO_RTT)
    text = (
        f"handshake round trips before the request: TLS 1.2 {t12:.2f}, TLS 1.3 {t13:.2f}, "
        f"QUIC 1-RTT {q1:.2f}, QUIC 0-RTT {q0:.2f}"
    )
    if not saved13.met or not saved0.met:
        return refuted(f"{text}: a claimed round trip was not saved", saved13, saved0, one, zero)
    if not one.met or not zero.met:
        return nuanced(
            f"{text}: round trips saved, but not down to 1 and 0", saved13, saved0, one, zero
        )
    return holds(text, saved13, saved0, one, zero)


async def measure(rtts_s: list[float], samples: int) -> TlsHandshakesMeasurement:
    ttfb: dict[str, list[float]] = {m: [] for m in MODES}
    for rtt in rtts_s:
        async with HandshakeBench(rtt) as bench:
            for mode in MODES:
                times = [await bench.ttfb(mode) for _ in range(samples)]
                ttfb[mode].append(min(times))  # load only ever adds time: the fastest is the floor
    slopes = {m: round(rtts_per_request(rtts_s, ts), 3) for m, ts in ttfb.items()}
    return TlsHandshakesMeasurement(
        rtts_ms=[round(r * 1000, 1) for r in rtts_s],
        ttfb_ms={m: [round(t * 1000, 2) for t in ts] for m, ts in ttfb.items()},
        rtts_per_request=slopes,
    )


@experiment(
    id="security.tls_handshakes",
    section="3.4",
    title="TLS 1.2 vs TLS 1.3 vs 0-RTT: round trips to the first byte",
    claim="""TLS 1.3 reduces the handshake from two round trips (TLS 1.2) to one, and its
    0-RTT mode lets a returning client send application data in its very first flight.""",
    method="""A client times its first response byte through a relay that adds a fixed
    round-trip time on loopback: TLS 1.2 and TLS 1.3 full handshakes with Python's ssl, and
    TLS 1.3 inside QUIC (aioquic) without a ticket (1-RTT) and resuming with one (0-RTT early
    data). For each injected RTT the fastest of several requests is taken (load on the machine
    only ever adds time, so the fastest is the protocol's floor); the slope of time
    against RTT (least squares) is the round trips a request costs, one of which is the
    request's own. The TCP connect to the relay is not delayed, so TLS's round trips are
    counted, not TCP's.""",
    judge=judge_tls_handshakes,
    rule="""refuted when TLS 1.3 saves less than half a round trip over TLS 1.2, or 0-RTT less
    than half a round trip over 1-RTT (round trips are whole numbers: half is the rounding
    bound); nuanced when both save a round trip but TLS 1.3 still needs more than 1.5 or 0-RTT
    more than 0.5 round trips before the request; holds otherwise.""",
    profiles={
        "quick": {"rtt_min_ms": 20, "rtt_max_ms": 80, "points": 2, "samples": 3},
        "full": {"rtt_min_ms": 10, "rtt_max_ms": 160, "points": 5, "samples": 7},
    },
    ranges={"points": (2, 20)},
    references=[
        "RFC 8446 §2 and §2.3 (TLS 1.3 1-RTT handshake and 0-RTT early data), RFC 5246 §7.3 "
        "(TLS 1.2 full handshake: two round trips) (docs/references.md §3.4).",
    ],
)
def tls_handshakes(ctx: Context) -> Outcome[TlsHandshakesMeasurement]:
    p = ctx.params
    lo, hi, points = float(p["rtt_min_ms"]), float(p["rtt_max_ms"]), int(p["points"])
    rtts = [(lo + (hi - lo) * i / (points - 1)) / 1000 for i in range(points)]
    measured = asyncio.run(measure(rtts, int(p["samples"])))
    table = Table(
        "Time to first byte (fastest of the samples) per injected RTT",
        [
            Column("handshake"),
            *(Column(f"RTT {r:g} ms", "ms") for r in measured.rtts_ms),
            Column("RTTs per request"),
        ],
    )
    for mode in MODES:
        table.add(mode, *measured.ttfb_ms[mode], measured.rtts_per_request[mode])
    figure = Figure(
        "Time to first byte vs injected round-trip time",
        x_label="injected RTT (ms)",
        y_label="time to first byte (ms)",
        series=[Series(m, measured.rtts_ms, measured.ttfb_ms[m], style="line") for m in MODES],
    )
    slopes = ", ".join(f"{m} {measured.rtts_per_request[m]:.2f}" for m in MODES)
    return Outcome(
        measured, summary=f"RTTs per request: {slopes}", tables=[table], figures=[figure]
    )
