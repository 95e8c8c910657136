"""A Raft cluster split in two: who can still commit, and how fast it heals (codex 5.3).

One run of :func:`partition_run`: ``servers`` Raft servers serve ``clients`` clients running
the kv workload. At ``partition_at`` the network splits the leader and ``minority - 1``
followers from the rest; at ``heal_at`` it heals; the run ends at ``end``. The run records:

- the minority's commit progress during the partition (Raft says: none — it lacks a majority),
  and when the cut-off leader noticed and stepped down (check-quorum);
- when the majority elected a leader of its own, and the operations it completed meanwhile;
- after healing, how long until every minority server has applied everything the cluster
  had committed when the partition healed (it catches up from the new leader);
- completed operations per time bin (the throughput timeline) and the history's verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archlab.check.history import Event
from archlab.check.linearizability import check_linearizable
from archlab.consensus.client import Reply
from archlab.consensus.raft.config import RaftConfig
from archlab.consensus.raft.server import RaftServer, ServerOptions
from archlab.consensus.raft.simnode import SimRaft
from archlab.consensus.simclient import KVClientStub, kv_workload
from archlab.consensus.simhost import RunObserver, ServerNode
from archlab.consensus.simscenario import ConsensusWorld, current_leader, key_names
from archlab.sim.latency import Uniform
from archlab.sim.nemesis import FaultPlan
from archlab.sim.network import LinkConfig
from archlab.sim.process import Response

#: Replies leaving a server this soon after the split may be for commands committed before it.
_GRACE = 0.01


@dataclass(frozen=True)
class PartitionSetup:
    servers: int = 5
    minority: int = 2
    clients: int = 5
    partition_at: float = 1.0
    heal_at: float = 2.5
    end: float = 4.0
    bin: float = 0.05
    client_timeout: float = 0.5

    def __post_init__(self) -> None:
        if not 1 <= self.minority < self.servers / 2:
            raise ValueError("the minority side must hold fewer than half the servers")
        if not 0 < self.partition_at < self.heal_at < self.end:
            raise ValueError("need 0 < partition_at < heal_at < end")


@dataclass
class PartitionRun:
    seed: int
    minority: tuple[str, ...]
    majority: tuple[str, ...]
    #: Entries the minority's servers committed while cut off (Raft: 0).
    minority_commits: int
    #: Seconds from the partition to a leader on the majority side (None: never).
    election_after: float | None
    #: Operations completed ok during the partition, by the side that answered them.
    ops_during: dict[str, int]
    #: Seconds from the partition until the cut-off leader stepped down (check-quorum).
    deposed_after: float | None
    #: Seconds from healing until the minority has applied what was committed at healing.
    caught_up_after: float | None
    #: Completed-ok operations per bin, as ``(bin start, count)``.
    timeline: list[tuple[float, int]] = field(default_factory=list)
    linearizable: bool | str = True


def _commit(world: ConsensusWorld, address: str) -> int:
    node = world.hosts[address].node
    if not isinstance(node, ServerNode):
        return 0
    server = node.server
    assert isinstance(server, RaftServer)
    return server.node.commit_index


def _applied(world: ConsensusWorld, address: str) -> int:
    node = world.hosts[address].node
    if not isinstance(node, ServerNode):
        return 0
    server = node.server
    assert isinstance(server, RaftServer)
    return server.node.applied_index


def partition_run(setup: PartitionSetup, seed: int) -> PartitionRun:  # noqa: PLR0915 - one experiment run as a script: set-up, partition, heal, measure
    """One partition-and-heal run (see the module docstring)."""
    raft = SimRaft(
        voters=setup.servers,
        config=RaftConfig(id=1, election_tick=10, heartbeat_tick=1),
        options=ServerOptions(compact_after=256),
        tick=0.01,
    )
    observer = RunObserver()
    world = ConsensusWorld(
        observer=observer,
        seed=seed,
        node_factory=raft.factory(observer),
        stub_factory=KVClientStub,
        workload=kv_workload(key_names(3)),
        bootstrap=raft.bootstrap,
        nodes=setup.servers,
        clients=setup.clients,
        ops=10**7,
        link=LinkConfig(latency=Uniform(0.001, 0.005)),
        client_timeout=setup.client_timeout,
        think=Uniform(0.0, 0.01),
        trace=True,
    )
    sim = world.sim
    state: dict[str, object] = {}
    elections: list[tuple[float, str]] = []
    observer.leader_listeners.append(
        lambda event, address, term: (
            elections.append((sim.now, address)) if event == "elected" else None
        )
    )

    def split() -> None:
        leader = current_leader(world) or world.servers[0]
        others = [a for a in world.servers if a != leader]
        rng = sim.rng("experiment.partition")
        rng.shuffle(others)
        minority = tuple(sorted([leader, *others[: setup.minority - 1]]))
        state["minority"] = minority
        state["leader"] = leader
        state["commits"] = {a: _commit(world, a) for a in minority}
        duration = setup.heal_at - setup.partition_at
        plan = FaultPlan("partition", sim.now, duration, minority, shape="majority")
        world.nemesis.apply_now(plan)

    def heal_check() -> None:
        minority = state["minority"]
        assert isinstance(minority, tuple)
        before = state["commits"]
        assert isinstance(before, dict)
        state["minority_commits"] = sum(_commit(world, a) - before[a] for a in minority)
        majority = [a for a in world.servers if a not in minority]
        state["target"] = max(_commit(world, a) for a in majority)
        sim.after(0.0, poll_caught_up)

    def poll_caught_up() -> None:
        minority = state["minority"]
        target = state["target"]
        assert isinstance(minority, tuple) and isinstance(target, int)
        if all(_applied(world, a) >= target for a in minority):
            state["caught_up"] = sim.now - setup.heal_at
        elif sim.now < setup.end:
            sim.after(0.005, poll_caught_up)

    sim.at(setup.partition_at, split)
    # Just before the nemesis heals (same instant, scheduled earlier): read the minority.
    sim.at(setup.heal_at - 1e-9, heal_check)
    result = world.run(max_time=setup.end)
    minority = state["minority"]
    assert isinstance(minority, tuple)
    majority = tuple(a for a in world.servers if a not in minority)
    new_leader = next(
        (t for t, a in elections if a in majority and setup.partition_at <= t < setup.heal_at),
        None,
    )
    ops_during = {"minority": 0, "majority": 0}
    settle = setup.partition_at + _GRACE
    for time, event, fields in result.trace:
        if event != "send" or not settle <= time < setup.heal_at:
            continue
        message = fields["msg"]
        reply = message.result if isinstance(message, Response) else None
        if isinstance(reply, Reply) and reply.outcome == "ok":
            side = "minority" if fields["src"] in minority else "majority"
            ops_during[side] += 1
    old_leader = state["leader"]
    deposed = next(
        (
            time - setup.partition_at
            for time, event, fields in result.trace
            if event == "note"
            and fields["node"] == old_leader
            and time >= setup.partition_at
            and str(fields["text"]).startswith("stepped down")
        ),
        None,
    )
    timeline = _timeline(result.history, setup)
    verdict = check_linearizable(result.history, model="kv", time_limit=10.0).valid
    commits = state.get("minority_commits", 0)
    caught = state.get("caught_up")
    return PartitionRun(
        seed=seed,
        minority=minority,
        majority=majority,
        minority_commits=int(commits) if isinstance(commits, int) else 0,
        election_after=None if new_leader is None else new_leader - setup.partition_at,
        ops_during=ops_during,
        deposed_after=deposed,
        caught_up_after=float(caught) if isinstance(caught, float) else None,
        timeline=timeline,
        linearizable=verdict,
    )


def _timeline(history: list[Event], setup: PartitionSetup) -> list[tuple[float, int]]:
    bins = round(setup.end / setup.bin)
    counts = [0] * bins
    for event in history:
        if event.type == "ok" and event.time is not None:
            index = min(bins - 1, int(event.time / setup.bin))
            counts[index] += 1
    return [(round(i * setup.bin, 6), c) for i, c in enumerate(counts)]
