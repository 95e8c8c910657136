"""Seeded random walks over the Multi-Paxos test cluster, checking invariants after every step.

A walk runs a few hundred weighted steps from one seed: deliveries in any order, drops,
duplicates, ticks, timeouts, crashes and restarts, partitions, proposals at the leader and
elsewhere, compaction. ``walk(seed, ...)`` again reproduces a failure exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from archlab.consensus.paxos import Flaws
from tests.consensus.paxos.cluster import PaxosCluster
from tests.consensus.paxos.invariants import InvariantViolation


@dataclass(frozen=True)
class WalkResult:
    seed: int
    steps: int
    violation: str | None
    max_commit: int
    leaders: int


def walk(  # noqa: PLR0912 - a random walk chooses among every action of the protocol in one loop
    seed: int,
    steps: int = 300,
    flaws: Flaws | None = None,
    nodes: int = 5,
    learners: int = 0,
) -> WalkResult:
    """``learners``: that many of the nodes (the highest ids) only learn."""
    rng = random.Random(seed)
    ids = list(range(1, nodes + 1))
    voters = set(ids[: nodes - learners]) if learners else None
    cluster = PaxosCluster(ids, seed=seed, flaws=flaws or Flaws(), voters=voters)
    ids = cluster.ids
    leaders: set[tuple[int, object]] = set()
    step = 0
    try:
        while step < steps:
            step += 1
            roll = rng.random()
            pool = cluster.pool
            if roll < 0.35 and pool:
                cluster.deliver_at(rng.randrange(len(pool)))
            elif roll < 0.42 and pool:
                pool.pop(rng.randrange(len(pool)))
            elif roll < 0.45 and pool:
                pool.append(pool[rng.randrange(len(pool))])
            elif roll < 0.62:
                cluster.tick(rng.choice(ids))
            elif roll < 0.66:
                node = rng.choice(ids)
                if cluster.nodes[node] is not None:
                    cluster.campaign(node)
            elif roll < 0.69:
                cluster.crash(rng.choice(ids))
            elif roll < 0.74:
                node = rng.choice(ids)
                if cluster.nodes[node] is None:
                    cluster.start(node)
            elif roll < 0.76:
                minority = rng.sample(ids, rng.randint(1, (nodes - 1) // 2))
                cluster.partition(minority, [n for n in ids if n not in minority])
            elif roll < 0.79:
                cluster.heal()
            elif roll < 0.92:
                leader = cluster.leader()
                target = leader.id if leader is not None and rng.random() < 0.8 else rng.choice(ids)
                for _ in range(rng.randint(1, 3)):
                    cluster.propose(target)
            elif roll < 0.94:
                cluster.compact(rng.choice(ids))
            else:
                cluster.deliver_all(max_messages=200)
            leader = cluster.leader()
            if leader is not None:
                leaders.add((leader.id, leader.ballot))
            cluster.check()
    except InvariantViolation as exc:
        return WalkResult(seed, step, str(exc), _max_commit(cluster), len(leaders))
    return WalkResult(seed, steps, None, _max_commit(cluster), len(leaders))


def _max_commit(cluster: PaxosCluster) -> int:
    return max((n.commit_index for n in cluster.alive().values()), default=0)


def first_failure(seeds: range, **kwargs: object) -> WalkResult | None:
    for seed in seeds:
        result = walk(seed, **kwargs)  # type: ignore[arg-type]
        if result.violation is not None:
            return result
    return None
