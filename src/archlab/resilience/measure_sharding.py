"""Experiment ``resilience.shuffle_sharding`` (codex 9.2): the blast radius of a poison tenant.

For each (workers, shard size) configuration, thousands of tenants are placed by plain
sharding and by shuffle sharding; then, for several poison tenants in turn, every worker of the
poison tenant's shard is taken down and the other tenants are counted: *fully affected* when
none of their workers is left (a client retrying on another worker of its shard cannot get
through), *touched* when they lost at least one. Theory: plain sharding cuts off ``k / n`` of
the tenants, shuffle sharding ``1 / C(n, k)``; ``1 − C(n−k, k) / C(n, k)`` are touched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

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
    holds,
    nuanced,
    refuted,
)
from archlab.resilience.sharding import (
    PlainSharder,
    ShuffleSharder,
    expected_fully_affected,
    expected_overlapping,
)

#: Counts are compared with the binomial distribution the combinatorics predict; outside its
#: central 99.9% a count is not chance (a 0.1% false alarm per comparison).
TAIL = 0.0005


@dataclass(frozen=True)
class ShardingResult:
    workers: int
    shard_size: int
    tenants: int
    poisons: int
    plain_cut_off: int
    shuffle_cut_off: int
    shuffle_touched: int
    shuffle_cut_off_high: int  # the 99.95% quantile of the count theory predicts

    @property
    def trials(self) -> int:
        return self.tenants * self.poisons

    @property
    def plain_share(self) -> float:
        return self.plain_cut_off / self.trials

    @property
    def shuffle_share(self) -> float:
        return self.shuffle_cut_off / self.trials

    @property
    def touched_share(self) -> float:
        return self.shuffle_touched / self.trials


@dataclass(frozen=True)
class ShardingMeasurement:
    results: list[ShardingResult]


def binomial_quantile(n: int, p: float, q: float) -> int:
    """The smallest count c with P(X ≤ c) ≥ q for X ~ Binomial(n, p)."""
    if p <= 0:
        return 0
    log_p, log_q = math.log(p), math.log1p(-p) if p < 1 else -math.inf
    total = 0.0
    for c in range(n + 1):
        log_term = math.lgamma(n + 1) - math.lgamma(c + 1) - math.lgamma(n - c + 1)
        total += math.exp(log_term + c * log_p + (n - c) * log_q)
        if total >= q:
            return c
    return n


def judge_sharding(m: ShardingMeasurement) -> Judgement:
    evidence = []
    worse, off_theory = [], []
    for r in m.results:
        limit = Threshold(
            r.shuffle_cut_off_high,
            "tenants",
            f"99.95% quantile of Binomial({r.trials}, 1/C({r.workers},{r.shard_size}))",
        )
        ev = Evidence(
            f"tenants cut off with shuffle sharding, {r.workers} workers / shards of "
            f"{r.shard_size} ({r.poisons} poison tenants × {r.tenants})",
            r.shuffle_cut_off,
            "tenants",
            at_most=limit,
        )
        evidence.append(ev)
        evidence.append(
            Evidence(
                f"tenants cut off with plain sharding, {r.workers}/{r.shard_size}",
                r.plain_cut_off,
                "tenants",
            )
        )
        if r.shuffle_cut_off >= r.plain_cut_off:
            worse.append(r)
        elif not ev.met:
            off_theory.append(r)
    if worse:
        r = worse[0]
        return refuted(
            f"with {r.workers} workers and shards of {r.shard_size}, shuffle sharding cut off "
            f"{r.shuffle_share:.2%} of tenants, no fewer than plain sharding's {r.plain_share:.2%}",
            *evidence,
        )
    if off_theory:
        r = off_theory[0]
        return nuanced(
            f"shuffle sharding cut off fewer tenants than plain sharding, but more than chance "
            f"allows for 1/C({r.workers},{r.shard_size}): {r.shuffle_cut_off} of {r.trials} "
            "(the tenant hash clusters)",
            *evidence,
        )
    parts = [
        f"{r.workers}/{r.shard_size}: {r.plain_share:.1%} cut off with plain sharding vs "
        f"{r.shuffle_share:.3%} with shuffle sharding "
        f"(theory {expected_fully_affected(r.workers, r.shard_size):.2e}), "
        f"while {r.touched_share:.0%} lost at least one worker"
        for r in m.results
    ]
    return holds("; ".join(parts), *evidence)


class Sharder(Protocol):
    def shard(self, tenant: str) -> tuple[str, ...]: ...


def measure_one(
    workers: int,
    size: int,
    tenants: int,
    poisons: int,
    seed: int,
    shuffle: Sharder | None = None,
) -> ShardingResult:
    """Place ``tenants`` both ways and poison ``poisons`` tenants in turn (``shuffle`` replaces
    the shuffle sharder, so tests can measure a broken one)."""
    names = [f"w{i}" for i in range(workers)]
    plain = PlainSharder(names, size, seed)
    shuffle = shuffle or ShuffleSharder(names, size, seed)
    plain_shards = [frozenset(plain.shard(f"t{i}")) for i in range(tenants)]
    shuffle_shards = [frozenset(shuffle.shard(f"t{i}")) for i in range(tenants)]
    cut_plain = cut_shuffle = touched = 0
    for j in range(poisons):
        bad_plain = frozenset(plain.shard(f"poison{j}"))
        bad_shuffle = frozenset(shuffle.shard(f"poison{j}"))
        cut_plain += sum(1 for s in plain_shards if s <= bad_plain)
        cut_shuffle += sum(1 for s in shuffle_shards if s <= bad_shuffle)
        touched += sum(1 for s in shuffle_shards if s & bad_shuffle)
    high = binomial_quantile(tenants * poisons, expected_fully_affected(workers, size), 1 - TAIL)
    return ShardingResult(workers, size, tenants, poisons, cut_plain, cut_shuffle, touched, high)


def measure(ctx: Context) -> Outcome[ShardingMeasurement]:
    p = ctx.params
    configs = [(int(n), int(k)) for n, k in zip(p["workers"], p["shard_sizes"], strict=True)]
    results = []
    with ctx.progress.task("tenants placed and poisoned", len(configs)) as task:
        for n, k in configs:
            results.append(measure_one(n, k, int(p["tenants"]), int(p["poisons"]), ctx.seed))
            task.advance()
    measured = ShardingMeasurement(results)
    table = Table(
        "Other tenants cut off by one poison tenant",
        [
            Column("workers"),
            Column("shard size"),
            Column("plain: cut off", "%"),
            Column("theory k/n", "%"),
            Column("shuffle: cut off", "%"),
            Column("theory 1/C(n,k)", "%"),
            Column("shuffle: lost ≥ 1 worker", "%"),
            Column("theory", "%"),
        ],
        note="Each poison tenant's workers are all taken down in turn; a tenant is cut off when "
        "none of its own workers is left.",
    )
    for r in results:
        table.add(
            r.workers,
            r.shard_size,
            100 * r.plain_share,
            100 * r.shard_size / r.workers,
            100 * r.shuffle_share,
            100 * expected_fully_affected(r.workers, r.shard_size),
            100 * r.touched_share,
            100 * expected_overlapping(r.workers, r.shard_size),
        )
    labels = [f"{r.workers} workers, shards of {r.shard_size}" for r in results]
    floor = 1e-9  # a zero count is drawn at the floor of the log axis
    figure = Figure(
        "Share of tenants cut off by one poison tenant",
        y_label="share of tenants",
        log_y=True,
        series=[
            Series("plain sharding", labels, [max(r.plain_share, floor) for r in results], "bar"),
            Series(
                "shuffle sharding", labels, [max(r.shuffle_share, floor) for r in results], "bar"
            ),
            Series(
                "theory 1/C(n,k)",
                labels,
                [expected_fully_affected(r.workers, r.shard_size) for r in results],
                "bar",
            ),
        ],
        caption="A measured zero is drawn at 10⁻⁹.",
    )
    summary = "; ".join(
        f"{r.workers}/{r.shard_size}: plain {r.plain_share:.1%}, "
        f"shuffle {r.shuffle_share:.3%} cut off"
        for r in results
    )
    return Outcome(measured, summary=summary, tables=[table], figures=[figure])
