"""Replication under the simulator's nemesis, checked (codex 7.1).

:func:`run_replication` runs :mod:`archlab.streaming.replication` on three simulated servers
with producing clients while the nemesis partitions, crashes and restarts them (and may tear
unsynced writes), heals, lets the replicas settle, and checks two properties:

- every record acknowledged under ``acks=all`` is in the final leader's committed log (below
  its high watermark);
- the replicas agree: after settling, every replica's log equals the leader's.

The broken variant (a follower acknowledging before appending) loses acknowledged records
under crashes; the check reports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.sim.nemesis import NemesisSpec
from archlab.sim.process import NodeEnv
from archlab.sim.world import World
from archlab.streaming.replication import (
    AppendWorkload,
    Controller,
    ProducerStub,
    ReplicaNode,
    ReplicationConfig,
)


@dataclass(frozen=True)
class ReplicationRun:
    seed: int
    acked: int
    refused: int
    lost: int
    diverged_replicas: int
    elections: int
    faults: int


def run_replication(
    seed: int,
    config: ReplicationConfig,
    nemesis: str = "crash,partition",
    ops: int = 200,
    settle: float = 2.0,
) -> ReplicationRun:
    servers = tuple(f"n{i}" for i in range(3))
    controller = Controller(servers, config.session_timeout)

    def factory(env: NodeEnv) -> ReplicaNode:
        return ReplicaNode(env, controller, config)

    world = World(
        seed=seed,
        node_factory=factory,
        stub_factory=lambda servers, rng: ProducerStub(servers),
        workload=AppendWorkload(),
        nodes=3,
        clients=3,
        ops=ops,
        nemesis=NemesisSpec.parse(nemesis, interval=0.3, duration=0.3),
        client_timeout=0.5,
        trace=False,
        trace_messages=False,
    )
    result = world.run(max_time=120.0)
    world.sim.run(until=world.sim.now + settle)
    invoked: dict[object, int] = {}
    acked: list[int] = []
    refused = 0
    for event in result.history:
        if event.type == "invoke":
            invoked[event.process] = int(event.value)
        elif event.type == "ok":
            acked.append(invoked[event.process])
        elif event.type == "fail":
            refused += 1
    nodes = {a: h.node for a, h in world.hosts.items()}
    leader = nodes.get(controller.leader) if controller.leader else None
    committed: set[int] = set()
    leader_log: list[tuple[int, int]] = []
    if isinstance(leader, ReplicaNode):
        committed = {e.value for e in leader.log[: leader.high_watermark]}
        leader_log = [(e.epoch, e.value) for e in leader.log]
    diverged = sum(
        1
        for node in nodes.values()
        if not isinstance(node, ReplicaNode) or [(e.epoch, e.value) for e in node.log] != leader_log
    )
    return ReplicationRun(
        seed=seed,
        acked=len(acked),
        refused=refused,
        lost=sum(1 for v in acked if v not in committed),
        diverged_replicas=diverged,
        elections=controller.elections,
        faults=len(result.faults),
    )
