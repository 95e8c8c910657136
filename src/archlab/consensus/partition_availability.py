"""Codex 5.3: a partitioned Raft cluster stays available on its majority side only.

``consensus.partition_availability`` cuts the leader and one follower off from the other
three of five simulated Raft servers (:mod:`archlab.consensus.raft.availability`) and measures
what each side commits, how fast the majority elects, how much it serves, and how fast the
minority catches up after healing. Safety thresholds are zero (a leader needs a majority to
commit: Raft paper, docs/references.md §5.1–5.3); the liveness ones are counted in the
experiment's own election timeouts (100–190 ms) and heartbeat interval (10 ms).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from archlab.consensus.raft.availability import PartitionRun, PartitionSetup, partition_run
from archlab.lab import (
    Band,
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

#: Raft's safety: an entry commits only on a majority, so a minority commits and answers nothing.
NO_MINORITY_PROGRESS = Threshold(
    0,
    "",
    "Raft paper: a leader commits only once a majority stores it (docs/references.md §5.1–5.3)",
)
#: "Within a few election timeouts": three of the longest timeout (10 ticks of 10 ms, randomized
#: up to 190 ms). Check-quorum deposes the old leader within one; pre-vote and vote need one more.
ELECTION_BOUND = Threshold(
    570.0, "ms", "the claim's 'a few election timeouts': 3 x the longest timeout, 190 ms"
)
#: "Keeps serving": at least half the throughput it had before. The commit quorum (3 of 5) does
#: not change, only which acknowledgement the leader waits for, so anything near half is a
#: different effect (clients stuck on the old leader, elections repeating).
THROUGHPUT_KEPT = Threshold(
    0.5, "x", "the claim's 'keeps serving': at least half the rate before; the quorum is unchanged"
)
#: After healing, the new leader's next heartbeat (every 10 ms tick) reaches the minority; one
#: election timeout (190 ms at most) is the time within which a follower expects to hear it.
CATCH_UP_BOUND = Threshold(
    190.0, "ms", "one election timeout (at most 190 ms); heartbeats go every 10 ms"
)


@dataclass(frozen=True)
class PartitionMeasurement:
    seeds: int
    minority_commits: int
    minority_ok_replies: int
    majority_elected_seeds: int
    election_after_max_ms: float | None  # None when some seed never elected
    election_after_median_ms: float | None
    majority_throughput_ratio_min: float
    caught_up_max_ms: float | None  # None when some seed never caught up
    linearizable_seeds: int


def judge_partition_availability(m: PartitionMeasurement) -> Judgement:
    commits = Evidence(
        "entries committed by the minority", m.minority_commits, at_most=NO_MINORITY_PROGRESS
    )
    answers = Evidence(
        "operations the minority acknowledged",
        m.minority_ok_replies,
        at_most=NO_MINORITY_PROGRESS,
    )
    unelected = Evidence(
        "seeds without a majority leader",
        m.seeds - m.majority_elected_seeds,
        at_most=NO_MINORITY_PROGRESS,
    )
    stale = Evidence(
        "seeds not linearizable", m.seeds - m.linearizable_seeds, at_most=NO_MINORITY_PROGRESS
    )
    election = Evidence(
        "majority elected after (worst seed)", m.election_after_max_ms, "ms", at_most=ELECTION_BOUND
    )
    kept = Evidence(
        "majority throughput / before (worst seed)",
        m.majority_throughput_ratio_min,
        "x",
        at_least=THROUGHPUT_KEPT,
    )
    caught = Evidence(
        "minority caught up after heal (worst seed)",
        m.caught_up_max_ms,
        "ms",
        at_most=CATCH_UP_BOUND,
    )
    text = (
        f"over {m.seeds} partitions the minority (with the old leader) committed "
        f"{m.minority_commits} entries and acknowledged {m.minority_ok_replies} operations; the "
        f"majority elected a leader in {m.majority_elected_seeds}/{m.seeds} (within "
        f"{_ms(m.election_after_max_ms)}) and then ran at ≥ "
        f"{100 * m.majority_throughput_ratio_min:.0f}% of its earlier throughput; after healing "
        f"the minority caught up within {_ms(m.caught_up_max_ms)}; "
        f"{m.linearizable_seeds}/{m.seeds} histories linearizable"
    )
    safety = (commits, answers, unelected, stale)
    if not all(e.met for e in safety):
        return refuted(text, *(e for e in safety if not e.met), election, kept, caught)
    liveness = (election, kept, caught)
    if all(e.met for e in liveness):
        return holds(text, *safety, *liveness)
    slow = "; ".join(e.name for e in liveness if not e.met)
    return nuanced(f"{text}: safe, but slower than claimed ({slow})", *safety, *liveness)


def _ms(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f} ms"


def _rate(run: PartitionRun, start: float, end: float, width: float) -> float:
    counts = [c for t, c in run.timeline if start <= t and t + width <= end]
    return sum(counts) / (len(counts) * width) if counts else 0.0


@experiment(
    id="consensus.partition_availability",
    section="5.3",
    title="A partitioned Raft cluster: the majority carries on, the minority cannot commit",
    claim="""A Raft cluster split by a network partition stays available only on the side
    that holds a majority of servers: the minority — even holding the old leader — commits
    nothing, the majority elects a new leader within a few election timeouts and keeps
    serving, and once the partition heals the minority catches up from the new leader.""",
    method="""Five Raft servers (10 ms ticks, election timeouts 100–190 ms) in the simulator
    serve 5 clients running reads, writes and compare-and-sets on 3 keys. At 1 s the
    network cuts the leader and one follower off from the other three; at 2.5 s it heals.
    Measured per seed: entries the minority committed and operations it acknowledged while
    cut off, when the majority elected a leader, its throughput from then until the heal
    relative to before the partition, how long after healing until the minority had applied
    everything committed at the heal, and the history's linearizability (kv model).""",
    judge=judge_partition_availability,
    rule="""refuted when, in any seed, the minority commits or acknowledges anything, the
    majority elects no leader, or the history is not linearizable (Raft's safety: zero).
    Otherwise holds when, in the worst seed, the majority elected within 570 ms (the claim's
    "a few election timeouts": 3 x 190 ms), kept at least half its earlier throughput (the
    quorum is unchanged), and the minority caught up within one election timeout (190 ms)
    of healing; nuanced when safe but slower than that.""",
    profiles={"quick": {"seeds": 4}, "full": {"seeds": 30}},
    references=[
        "Raft paper (Ongaro & Ousterhout 2014): a leader needs a majority to commit; "
        "check-quorum and pre-vote as in the dissertation (ch. 6, 9) (docs/references.md "
        "§5.1–5.3)"
    ],
)
def partition_availability(ctx: Context) -> Outcome[PartitionMeasurement]:
    setup = PartitionSetup()
    seeds = [ctx.seed * 10_000 + i for i in range(int(ctx.params["seeds"]))]
    runs: list[PartitionRun] = []
    with ctx.progress.task("partitions", len(seeds)) as task:
        for seed in seeds:
            runs.append(partition_run(setup, seed))
            task.advance()
    table = Table(
        "Each partition",
        [
            Column("seed"),
            Column("minority"),
            Column("minority commits"),
            Column("old leader stepped down after", "ms"),
            Column("majority elected after", "ms"),
            Column("ops answered by the majority while split"),
            Column("majority throughput / before"),
            Column("minority caught up after heal", "ms"),
            Column("linearizable"),
        ],
    )
    ratios, elections, caught = [], [], []
    for run in runs:
        before = _rate(run, 0.3, setup.partition_at, setup.bin)
        start = setup.partition_at + (run.election_after or 0.0)
        during = _rate(run, start, setup.heal_at, setup.bin)
        ratio = during / before if before else 0.0
        ratios.append(ratio)
        if run.election_after is not None:
            elections.append(1000 * run.election_after)
        caught.append(1000 * run.caught_up_after if run.caught_up_after is not None else math.inf)
        table.add(
            run.seed,
            ",".join(run.minority),
            run.minority_commits,
            None if run.deposed_after is None else round(1000 * run.deposed_after, 1),
            None if run.election_after is None else round(1000 * run.election_after, 1),
            run.ops_during["majority"],
            round(ratio, 2),
            None if run.caught_up_after is None else round(1000 * run.caught_up_after, 1),
            str(run.linearizable),
        )
    measured = PartitionMeasurement(
        seeds=len(runs),
        minority_commits=sum(r.minority_commits for r in runs),
        minority_ok_replies=sum(r.ops_during["minority"] for r in runs),
        majority_elected_seeds=len(elections),
        election_after_max_ms=round(max(elections), 1) if len(elections) == len(runs) else None,
        election_after_median_ms=round(statistics.median(elections), 1) if elections else None,
        majority_throughput_ratio_min=round(min(ratios), 3),
        caught_up_max_ms=round(max(caught), 1) if math.isfinite(max(caught)) else None,
        linearizable_seeds=sum(1 for r in runs if r.linearizable is True),
    )
    first = runs[0]
    xs = [t for t, _ in first.timeline]
    ys = [c / setup.bin for _, c in first.timeline]
    before = _rate(first, 0.3, setup.partition_at, setup.bin)
    figure = Figure(
        f"Completed operations per second, seed {first.seed}",
        x_label="time (s)",
        y_label="operations completed per second",
        series=[Series("ok operations/s", xs, ys, style="step")],
        bands=[Band(setup.partition_at, setup.heal_at, "partition: leader + 1 | 3")],
        ref_lines=[RefLine(before, "before the partition")],
        caption=(
            "The dip at the split lasts until clients find the majority's new leader; the "
            "minority answers nothing while cut off."
        ),
    )
    summary = (
        f"minority commits {measured.minority_commits}; majority elected within "
        f"{_ms(measured.election_after_max_ms)} and kept ≥ "
        f"{100 * measured.majority_throughput_ratio_min:.0f}% throughput; "
        f"caught up within {_ms(measured.caught_up_max_ms)} after healing"
    )
    return Outcome(measured, summary, tables=[table], figures=[figure])
