"""Seeded random walks over the Zab test cluster, checking every property after every step.

The Zab counterpart of ``tests/consensus/paxos/walk.py``: deliveries in any order, drops,
duplicates, ticks, crashes and restarts, partitions, proposals, compaction, from one seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from archlab.consensus.zab import Flaws, ZabSafetyError
from tests.consensus.zab.cluster import InvariantViolation, ZabCluster


@dataclass(frozen=True)
class WalkResult:
    seed: int
    steps: int
    violation: str | None
    delivered: int
    epochs: int


def walk(  # noqa: PLR0912 - a random walk chooses among every action of the protocol in one loop
    seed: int,
    steps: int = 300,
    flaws: Flaws | None = None,
    nodes: int = 5,
    observers: int = 0,
) -> WalkResult:
    """``observers``: that many of the nodes (the highest ids) are observers."""
    rng = random.Random(seed)
    ids = list(range(1, nodes + 1))
    voters = set(ids[: nodes - observers]) if observers else None
    cluster = ZabCluster(ids, seed=seed, flaws=flaws or Flaws(), voters=voters)
    ids = cluster.ids
    step = 0
    try:
        while step < steps:
            step += 1
            roll = rng.random()
            pool = cluster.pool
            if roll < 0.35 and pool:
                cluster.deliver_at(rng.randrange(len(pool)))
            elif roll < 0.41 and pool:
                pool.pop(rng.randrange(len(pool)))
            elif roll < 0.44 and pool:
                pool.append(pool[rng.randrange(len(pool))])
            elif roll < 0.62:
                cluster.tick(rng.choice(ids))
            elif roll < 0.65:
                cluster.crash(rng.choice(ids))
            elif roll < 0.70:
                node = rng.choice(ids)
                if cluster.nodes[node] is None:
                    cluster.start(node)
            elif roll < 0.72:
                minority = rng.sample(ids, rng.randint(1, (nodes - 1) // 2))
                cluster.partition(minority, [n for n in ids if n not in minority])
            elif roll < 0.75:
                cluster.heal()
            elif roll < 0.90:
                leader = cluster.leader()
                target = leader.id if leader is not None and rng.random() < 0.8 else rng.choice(ids)
                for _ in range(rng.randint(1, 3)):
                    cluster.propose(target)
            elif roll < 0.92:
                cluster.compact(rng.choice(ids))
            else:
                cluster.deliver_all(max_messages=300)
            cluster.check()
    except (InvariantViolation, ZabSafetyError) as exc:
        return WalkResult(seed, step, str(exc), len(cluster.delivered), len(cluster.established))
    return WalkResult(seed, steps, None, len(cluster.delivered), len(cluster.established))


def first_failure(seeds: range, **kwargs: object) -> WalkResult | None:
    for seed in seeds:
        result = walk(seed, **kwargs)  # type: ignore[arg-type]
        if result.violation is not None:
            return result
    return None
