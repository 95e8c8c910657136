"""Codex 10.5 measured: SWIM's detection, dissemination and load, and the ring's key movement.

``cases.ringpop_membership`` runs SWIM groups of growing size in the simulator
(:mod:`.simulate`): the time from a crash to the first suspicion, the time for a join to reach
every member, and the messages each member sends per period; a lossy group with and without
incarnation refutation for false positives; and the hash ring for the keys a join moves.
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass

from archlab.cases.ringpop.ring import HashRing, moved_fraction
from archlab.cases.ringpop.simulate import SwimCluster
from archlab.cases.ringpop.swim import SwimConfig
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

#: SWIM's expected periods until some member probes a failed one, e/(e-1) ~ 1.58, plus the one
#: period the probe itself waits before suspecting (docs/references.md §10).
DETECTION_PERIODS = Threshold(
    math.e / (math.e - 1) + 1.0,
    "periods",
    "SWIM (Das et al. 2002): e/(e-1) periods to first probe + 1 period of probe timeout",
)
#: "Constant in group size": across a 16x or larger span of sizes, the mean detection time may
#: vary by the spread of a handful of trials, not more.
CONSTANT_SPREAD = Threshold(2.0, "x", "SWIM: constant in group size; 2x is the trial spread")
CONSTANT_BROKEN = Threshold(3.0, "x", "growth well past the trial spread: not constant")
#: Per-member load is a ping, an ack and the odd ping-req per period, whatever the size.
LOAD_SPREAD = Threshold(1.25, "x", "SWIM: per-member message load independent of group size")
LOAD_BROKEN = Threshold(2.0, "x", "load doubling with size is not constant")
#: Dissemination in O(log N): its growth over the sizes may exceed the growth of log2 N by the
#: trial spread (1.5x) but no more ...
LOG_GROWTH = Threshold(1.5, "x of log2 N growth", "SWIM: infection-style spread in O(log N)")
#: ... and growing like sqrt(N) or faster is not logarithmic at all.
SQRT_GROWTH = Threshold(1.0, "x of sqrt N growth", "growth as fast as sqrt(N) is not O(log N)")
#: Suspicion with refutation must cut false positives clearly (Lifeguard adds a further 50x).
REFUTATION_CUT = Threshold(5.0, "x", "SWIM: suspicion + incarnations cut false positives")
#: A join should move about 1/(N+1) of the keys; 100 points per member leave ~10% spread.
MOVED_LOW = Threshold(0.5, "x of 1/(N+1)", "consistent hashing: 1/(N+1) moves, 100 points")
MOVED_HIGH = Threshold(1.5, "x of 1/(N+1)", "consistent hashing: 1/(N+1) moves, 100 points")


#: Extra crashes per trial timed to their first suspicion only.
EXTRA_CRASHES = 5


@dataclass(frozen=True)
class SizePoint:
    members: int
    detection_periods: float  # mean crash -> first suspicion
    all_faulty_periods: float  # mean crash -> every live member sees it faulty
    dissemination_periods: float  # mean join -> every member knows it
    messages_per_member_period: float


@dataclass(frozen=True)
class RingpopMeasurement:
    sizes: list[SizePoint]
    loss: float
    false_positive_share_refute: float  # suspicions of live members ending in a faulty declaration
    false_positive_share_broken: float  # the same without refutation
    members_declared_refute: float  # share of (live) members ever declared faulty
    members_declared_broken: float
    suspicions_refute: int
    ring_members: int
    moved_share: float
    expected_moved_share: float


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


def judge_ringpop_membership(m: RingpopMeasurement) -> Judgement:
    small, large = m.sizes[0], m.sizes[-1]
    worst_detection = max(p.detection_periods for p in m.sizes)
    detect = Evidence(
        "worst mean crash-to-suspicion", worst_detection, "periods", at_most=DETECTION_PERIODS
    )
    det_growth = _ratio(large.detection_periods, small.detection_periods)
    det_const = Evidence(
        f"detection, N={large.members} / N={small.members}",
        det_growth,
        "x",
        at_most=CONSTANT_SPREAD,
    )
    load_growth = _ratio(large.messages_per_member_period, small.messages_per_member_period)
    load = Evidence(
        "messages per member per period, large / small", load_growth, "x", at_most=LOAD_SPREAD
    )
    log_ratio = math.log2(large.members) / math.log2(small.members)
    dis_growth = _ratio(large.dissemination_periods, small.dissemination_periods)
    dis_log = Evidence(
        "dissemination growth / log2 N growth",
        dis_growth / log_ratio,
        "x of log2 N growth",
        at_most=LOG_GROWTH,
    )
    dis_sqrt = dis_growth / math.sqrt(large.members / small.members)
    # No false declaration at all with refutation: count it as one in a thousand suspicions.
    cut = _ratio(m.false_positive_share_broken, max(m.false_positive_share_refute, 0.001))
    fp = Evidence(
        "suspicions ending in a false declaration, no refutation / refutation",
        cut,
        "x",
        at_least=REFUTATION_CUT,
    )
    moved = m.moved_share / m.expected_moved_share
    moved_lo = Evidence("keys moved by a join / 1/(N+1)", moved, "x of 1/(N+1)", at_least=MOVED_LOW)
    moved_hi = Evidence("keys moved by a join / 1/(N+1)", moved, "x of 1/(N+1)", at_most=MOVED_HIGH)
    everything = (detect, det_const, load, dis_log, fp, moved_lo, moved_hi)
    text = (
        f"first suspicion within {worst_detection:.2f} periods at worst (N={small.members}.."
        f"{large.members}, {det_growth:.2f}x from smallest to largest); dissemination "
        f"{small.dissemination_periods:.1f} -> {large.dissemination_periods:.1f} periods "
        f"({dis_growth:.2f}x while log2 N grew {log_ratio:.2f}x); "
        f"per-member load {load_growth:.2f}x; "
        f"refutation cut the suspicions ending in a false declaration {cut:.1f}x; "
        f"a join moved {m.moved_share:.3f} of keys vs 1/(N+1) = {m.expected_moved_share:.3f}"
    )
    if all(e.met for e in everything):
        return holds(text, *everything)
    if dis_sqrt >= SQRT_GROWTH.value:
        sqrt_ev = Evidence(
            "dissemination growth / sqrt N growth",
            dis_sqrt,
            "x of sqrt N growth",
            at_least=SQRT_GROWTH,
        )
        return refuted(text + ": dissemination grows like a power of N", sqrt_ev, dis_log)
    if det_growth >= CONSTANT_BROKEN.value or load_growth >= LOAD_BROKEN.value:
        det_bad = Evidence(
            f"detection, N={large.members} / N={small.members}",
            det_growth,
            "x",
            at_least=CONSTANT_BROKEN,
        )
        load_bad = Evidence(
            "messages per member per period, large / small", load_growth, "x", at_least=LOAD_BROKEN
        )
        return refuted(text + ": cost grows with the group", det_bad, load_bad)
    failed = tuple(e for e in everything if not e.met)
    return nuanced(text + "; short of: " + ", ".join(e.name for e in failed), *everything)


def _size_point(n: int, trials: int, seed: int) -> SizePoint:
    detection: list[float] = []
    faulty: list[float] = []
    dissemination: list[float] = []
    load: list[float] = []
    for trial in range(trials):
        cluster = SwimCluster(n, seed=seed * 1000 + trial * 7 + n)
        cluster.run_for(3)
        sent, start = cluster.messages_sent(), cluster.now
        cluster.run_for(10)
        load.append((cluster.messages_sent() - sent) / (n * cluster.periods(cluster.now - start)))
        joined = f"joiner{trial}"
        start = cluster.now
        cluster.add(joined, cluster.names[0])
        cluster.run_for(80, stop_when=functools.partial(cluster.everyone_sees, joined, "alive"))
        dissemination.append(cluster.periods(cluster.now - start))
        cluster.run_for(1.0 + trial / trials)
        victim = cluster.names[1 + trial % (n - 1)]
        cluster.crash(victim)
        start = cluster.now
        cluster.run_for(80, stop_when=functools.partial(cluster.everyone_sees, victim, "faulty"))
        faulty.append(cluster.periods(cluster.now - start))
        first = min(cluster.observers(victim, "suspect").values(), default=cluster.now)
        detection.append(cluster.periods(first - start))
        # More detection samples from the same group: crash others one at a time, each
        # timed to its first suspicion only (cheap, and the mean's spread shrinks).
        spare = [m for m in cluster.names[1:] if m not in cluster.crashed]
        # (at most a quarter of the group down at once: SWIM's analysis assumes most alive)
        extras = min(EXTRA_CRASHES, max(0, n // 4 - 1))
        for extra in spare[trial % 5 :: max(1, len(spare) // max(1, extras))][:extras]:
            cluster.run_for(0.37)
            cluster.crash(extra)
            start = cluster.now
            cluster.run_for(40, stop_when=functools.partial(cluster.anyone_sees, extra, "suspect"))
            first = min(cluster.observers(extra, "suspect").values(), default=cluster.now)
            detection.append(cluster.periods(first - start))
    return SizePoint(
        members=n,
        detection_periods=round(statistics.mean(detection), 3),
        all_faulty_periods=round(statistics.mean(faulty), 3),
        dissemination_periods=round(statistics.mean(dissemination), 3),
        messages_per_member_period=round(statistics.mean(load), 3),
    )


def _false_positives(
    n: int, loss: float, periods: int, refute: bool, seed: int
) -> tuple[float, float, int]:
    """(share of suspicions of live members that ended in a faulty declaration, share of
    members ever declared faulty, suspicions raised) for one lossy run without crashes."""
    cluster = SwimCluster(n, SwimConfig(refute=refute), seed=seed, loss=loss)
    cluster.run_for(periods)
    suspicions = cluster.episodes["suspect"]
    declared = cluster.episodes["faulty"]
    members = {m for m, _ in declared}
    return len(declared) / max(1, len(suspicions)), len(members) / n, len(suspicions)


@experiment(
    id="cases.ringpop_membership",
    section="10.5",
    title="Ringpop: SWIM membership and the hash ring",
    claim="""Ringpop keeps a consistent view of cluster membership with the SWIM gossip
    protocol and routes each key to its owner on a consistent-hash ring: a failure is detected
    within a few protocol periods whatever the group size, at a constant message load per
    member, changes spread in O(log N) periods, incarnation refutation keeps live members from
    being declared dead, and a joining node takes over only about 1/N of the keys.""",
    method="""SWIM groups of growing size run in the discrete-event simulator (1 s periods,
    500 ms ping timeout, 3 indirect probes, 5-period suspicion, memberlist's retransmit limit).
    Per size and trial: 10 quiet periods count messages per member; a new member joins through
    one seed and the time until every member lists it is the dissemination time; then a member
    crashes and the time to the first suspicion (and to every member declaring it faulty) is
    recorded, and up to five more members (a quarter of the group at most) are crashed one
    at a time, each timed to its first suspicion. A group with per-message loss runs with
    and without refutation: the share of suspicion episodes (a member at an incarnation) that
    ended in a faulty declaration. A ring of N members (100 murmur3 points each) gains one
    member; the share of keys whose owner changed is compared with 1/(N+1).""",
    judge=judge_ringpop_membership,
    rule="""holds when the worst mean crash-to-suspicion time is at most e/(e-1)+1 = 2.58
    periods (SWIM's expected periods to the first probe, plus the probe's own period), it varies
    at most 2x between the smallest and largest group, per-member load varies at most 1.25x,
    dissemination grows at most 1.5x as fast as log2 N, refutation cuts the share of
    suspicions ending in a false declaration at least 5x, and a join moves 0.5-1.5x of
    1/(N+1) of the keys; refuted when dissemination grows at least as fast as sqrt(N), or
    detection grows 3x or load 2x with size; nuanced otherwise.""",
    profiles={
        "quick": {
            "sizes": [8, 32, 128],
            "trials": 6,
            "loss": 0.1,
            "fp_members": 32,
            "fp_periods": 150,
            "ring_members": 10,
            "keys": 20000,
        },
        "full": {
            "sizes": [16, 64, 256, 1024],
            "trials": 5,
            "loss": 0.1,
            "fp_members": 64,
            "fp_periods": 300,
            "ring_members": 50,
            "keys": 100000,
        },
    },
    ranges={"loss": (0.0, 0.5)},
    references=[
        "SWIM (Das, Gupta, Motivala, DSN 2002): first detection expected within e/(e-1) "
        "protocol periods, constant per-member load, O(log N) dissemination, suspicion with "
        "incarnations to cut false positives (docs/references.md §10).",
        "Ringpop: SWIM membership, a FarmHash ring with about 100 points per member, request "
        "forwarding with ring checksums (docs/references.md §10).",
    ],
)
def ringpop_membership(ctx: Context) -> Outcome[RingpopMeasurement]:
    p = ctx.params
    sizes = [int(n) for n in p["sizes"]]
    trials = int(p["trials"])
    points: list[SizePoint] = []
    with ctx.progress.task("SWIM groups", len(sizes) + 2) as task:
        for n in sizes:
            points.append(_size_point(n, trials, ctx.seed % 100_000))
            task.advance()
        fp_ok, members_ok, suspicions = _false_positives(
            int(p["fp_members"]), float(p["loss"]), int(p["fp_periods"]), True, ctx.seed
        )
        task.advance()
        fp_bad, members_bad, _ = _false_positives(
            int(p["fp_members"]), float(p["loss"]), int(p["fp_periods"]), False, ctx.seed
        )
        task.advance()
    n = int(p["ring_members"])
    rng = ctx.rng("keys")
    keys = [f"trip-{rng.getrandbits(48):x}" for _ in range(int(p["keys"]))]
    before = HashRing([f"10.0.0.{i}:3000" for i in range(n)])
    after = HashRing([*before.members, f"10.0.1.{n}:3000"])
    measured = RingpopMeasurement(
        sizes=points,
        loss=float(p["loss"]),
        false_positive_share_refute=round(fp_ok, 4),
        false_positive_share_broken=round(fp_bad, 4),
        members_declared_refute=round(members_ok, 4),
        members_declared_broken=round(members_bad, 4),
        suspicions_refute=suspicions,
        ring_members=n,
        moved_share=round(moved_fraction(before, after, keys), 4),
        expected_moved_share=round(1 / (n + 1), 4),
    )
    table = Table(
        "SWIM by group size (means over trials, simulated 1 s periods)",
        [
            Column("members"),
            Column("crash to first suspicion", "periods"),
            Column("crash to all faulty", "periods"),
            Column("join reaches all", "periods"),
            Column("messages per member", "per period"),
        ],
        note="SWIM's analysis: first probe of a failed member within e/(e-1) = 1.58 periods "
        "expected, per-member load constant, dissemination O(log N).",
    )
    for point in points:
        table.add(
            point.members,
            point.detection_periods,
            point.all_faulty_periods,
            point.dissemination_periods,
            point.messages_per_member_period,
        )
    fp_table = Table(
        f"False positives at {measured.loss:.0%} message loss, no member crashed",
        [
            Column("variant"),
            Column("suspicions ending in a faulty declaration", "%"),
            Column("members ever declared faulty", "%"),
        ],
    )
    fp_table.add("SWIM with refutation", 100 * fp_ok, 100 * members_ok)
    fp_table.add("broken: no refutation", 100 * fp_bad, 100 * members_bad)
    xs = [float(pt.members) for pt in points]
    figure = Figure(
        "Dissemination and detection vs group size",
        x_label="members",
        y_label="protocol periods",
        log_x=True,
        series=[
            Series("join reaches all", xs, [pt.dissemination_periods for pt in points]),
            Series("first suspicion", xs, [pt.detection_periods for pt in points]),
            Series(
                "log2 N (scaled)",
                xs,
                [points[0].dissemination_periods * math.log2(x) / math.log2(xs[0]) for x in xs],
                style="bound",
            ),
        ],
    )
    return Outcome(
        measured,
        summary=f"detection {points[0].detection_periods:.2f}-{points[-1].detection_periods:.2f} "
        f"periods, dissemination {points[0].dissemination_periods:.1f}->"
        f"{points[-1].dissemination_periods:.1f} periods for N={sizes[0]}->{sizes[-1]}",
        tables=[table, fp_table],
        figures=[figure],
    )
