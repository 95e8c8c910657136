"""Seeded random walks over the test cluster: long fault-heavy schedules, one seed each.

Where the Hypothesis state machine explores (and shrinks) short schedules, a walk runs a few
hundred weighted steps — deliveries in any order, drops, duplicates, ticks, crashes and
restarts, partitions, proposals, reads, membership changes, compaction — from one seed, checking
every invariant after every step. A failing seed is a replayable bug report:
``walk(seed, ...)`` again reproduces it exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from archlab.consensus.raft import ConfChange, ConfChangeKind, Flaws, RaftConfig, ReadMode
from tests.consensus.cluster import Cluster
from tests.consensus.invariants import InvariantViolation


@dataclass(frozen=True)
class WalkResult:
    seed: int
    steps: int
    violation: str | None
    max_commit: int
    leaders: int


def make_cluster(
    seed: int,
    flaws: Flaws | None = None,
    nodes: int = 5,
    read_mode: ReadMode = ReadMode.READ_INDEX,
    pre_vote: bool = True,
    spare: bool = True,
    max_entries_per_msg: int = 2,
) -> Cluster:
    config = RaftConfig(
        id=1,
        election_tick=4,
        heartbeat_tick=1,
        pre_vote=pre_vote,
        max_entries_per_msg=max_entries_per_msg,
        max_inflight=4,
        read_mode=read_mode,
        max_clock_drift=0.0,
        flaws=flaws or Flaws(),
    )
    cluster = Cluster(list(range(1, nodes + 1)), config=config, seed=seed)
    if spare:
        cluster.add_node(nodes + 1)
    return cluster


def walk(  # noqa: PLR0915 - a random walk chooses among every action of the protocol in one loop
    seed: int,
    steps: int = 300,
    flaws: Flaws | None = None,
    nodes: int = 5,
    read_mode: ReadMode = ReadMode.READ_INDEX,
    pre_vote: bool = True,
    churn: float = 1.0,
    strict_persist: bool = True,
    max_entries_per_msg: int = 2,
) -> WalkResult:
    """Run one seeded schedule; report the first invariant violation, if any."""
    rng = random.Random(seed)
    cluster = make_cluster(
        seed, flaws, nodes, read_mode, pre_vote, max_entries_per_msg=max_entries_per_msg
    )
    cluster.strict_persist = strict_persist
    lockstep = read_mode is ReadMode.LEASE
    universe = list(cluster.ids)

    def any_node() -> int:
        return rng.choice(universe)

    def deliver_random() -> None:
        if cluster.pool:
            cluster.deliver_at(rng.randrange(len(cluster.pool)))

    def deliver_batch() -> None:
        for _ in range(min(len(cluster.pool), rng.randint(1, 12))):
            cluster.deliver_at(0)

    def drop() -> None:
        if cluster.pool:
            cluster.pool.pop(rng.randrange(len(cluster.pool)))

    def duplicate() -> None:
        if cluster.pool:
            cluster.pool.append(rng.choice(cluster.pool))

    def tick_one() -> None:
        if lockstep:
            cluster.tick_all()
        else:
            cluster.tick(any_node())

    def tick_all() -> None:
        cluster.tick_all()

    def crash() -> None:
        cluster.crash(any_node())

    def restart() -> None:
        down = [i for i, n in cluster.nodes.items() if n is None]
        if down:
            cluster.start(rng.choice(down))

    def partition() -> None:
        shuffled = list(universe)
        rng.shuffle(shuffled)
        cut = rng.randint(1, len(shuffled) // 2)
        cluster.partition(shuffled[:cut], shuffled[cut:])

    def heal() -> None:
        cluster.heal()

    def propose_leader() -> None:
        leader = cluster.leader()
        if leader is not None:
            for _ in range(rng.randint(1, 3)):
                cluster.propose(leader.id)

    def propose_any() -> None:
        cluster.propose(any_node())

    def read() -> None:
        cluster.read(any_node())

    def change_membership() -> None:
        leader = cluster.leader()
        if leader is not None:
            kind = rng.choice(list(ConfChangeKind))
            cluster.propose_conf_change(leader.id, ConfChange(kind, any_node()))

    def compact() -> None:
        node = any_node()
        if cluster.nodes[node] is not None:
            cluster.compact(node)

    def campaign() -> None:
        node = any_node()
        if cluster.nodes[node] is not None:
            cluster.campaign(node)

    actions: list[tuple[Callable[[], None], float]] = [
        (deliver_random, 30),
        (deliver_batch, 20),
        (drop, 3),
        (duplicate, 2),
        (tick_one, 12),
        (tick_all, 10),
        (crash, 1.5 * churn),
        (restart, 3 * churn),
        (partition, 1 * churn),
        (heal, 1.5 * churn),
        (propose_leader, 10),
        (propose_any, 2),
        (read, 3),
        (change_membership, 1),
        (compact, 1),
        (campaign, 1 * churn),
    ]
    functions = [a for a, _ in actions]
    weights = [w for _, w in actions]
    step = 0
    try:
        cluster.check()
        for step in range(1, steps + 1):  # noqa: B007 - reported below
            rng.choices(functions, weights)[0]()
            cluster.check()
    except InvariantViolation as violation:
        return WalkResult(seed, step, str(violation), cluster.invariants.max_commit, 0)
    return WalkResult(
        seed, steps, None, cluster.invariants.max_commit, len(cluster.invariants.leaders)
    )


def first_failure(seeds: range, steps: int = 300, **options: object) -> WalkResult | None:
    """The first seed whose walk violates an invariant, or ``None``."""
    for seed in seeds:
        result = walk(seed, steps, **options)  # type: ignore[arg-type]
        if result.violation is not None:
            return result
    return None
