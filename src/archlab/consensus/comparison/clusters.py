"""Each protocol's cluster on simulated hosts, with the same timing and knobs (codex 5.3).

:func:`node_factory` builds the host node of one server of ``protocol`` — Raft's
:class:`~archlab.consensus.raft.server.RaftServer`, Multi-Paxos's
:class:`~archlab.consensus.paxos.server.PaxosServer` or Zab's
:class:`~archlab.consensus.zab.server.ZabServer`, over its storage on the host's simulated disk,
in a :class:`~archlab.consensus.simhost.ServerNode` ticking every ``tick`` seconds — with the
same election timeout (``election_tick``), heartbeat every tick, the same number of commands per
replication message (``max_batch``) and, optionally, :class:`~.batching.BatchingServer` around
it. Raft sends reads through its log here, as the other two do, so every operation is one
committed command in all three.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.consensus.comparison.batching import BatchingServer
from archlab.consensus.paxos.config import PaxosConfig
from archlab.consensus.paxos.server import PaxosServer
from archlab.consensus.paxos.simstorage import DiskPaxosStorage
from archlab.consensus.raft.config import RaftConfig
from archlab.consensus.raft.server import RaftServer, ServerOptions
from archlab.consensus.raft.simstorage import DiskStorage
from archlab.consensus.raft.types import ConfState
from archlab.consensus.replica import ReplicaOptions
from archlab.consensus.server import ConsensusServer
from archlab.consensus.simhost import RunObserver, ServerNode, TickClock, server_id
from archlab.consensus.zab.config import ZabConfig
from archlab.consensus.zab.server import ZabServer
from archlab.consensus.zab.simstorage import DiskZabStorage
from archlab.sim.disk import Disk
from archlab.sim.process import Address, NodeEnv, NodeFactory

PROTOCOLS = ("raft", "paxos", "zab")
LABELS = {"raft": "Raft", "paxos": "Multi-Paxos", "zab": "Zab"}


@dataclass(frozen=True)
class ClusterSpec:
    protocol: str
    nodes: int
    batching: bool = False
    max_batch: int = 64
    tick: float = 0.01
    election_tick: int = 10
    compact_after: int = 1000

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; one of {', '.join(PROTOCOLS)}")

    @property
    def max_catch_up(self) -> int:
        return 4 * self.election_tick + 2

    def bootstrap(self, address: Address, servers: tuple[Address, ...], disk: Disk) -> None:
        """The founding members' disks, as each protocol's simulator scenario writes them."""
        if self.protocol == "raft":
            DiskStorage.bootstrap(disk, ConfState.of(list(range(1, len(servers) + 1))))
        elif self.protocol == "paxos":
            DiskPaxosStorage.bootstrap(disk)
        else:
            DiskZabStorage.bootstrap(disk)

    def server(self, env: NodeEnv) -> ConsensusServer:
        me = server_id(env.address, env.peers)
        members = frozenset(range(1, len(env.peers) + 1))
        # Every protocol sends reads through the log here: the cost per command compared.
        options = ReplicaOptions(compact_after=self.compact_after, log_reads=True)
        server: ConsensusServer
        if self.protocol == "raft":
            raft = RaftConfig(
                id=me,
                election_tick=self.election_tick,
                heartbeat_tick=1,
                max_entries_per_msg=self.max_batch,
                max_inflight=256,
            )
            raft_options = ServerOptions(compact_after=self.compact_after, log_reads=True)
            server = RaftServer(raft, DiskStorage.open(env.disk), env.rng, raft_options)
        elif self.protocol == "paxos":
            storage = DiskPaxosStorage.open(env.disk)
            paxos = PaxosConfig(
                id=me,
                members=members,
                election_tick=self.election_tick,
                heartbeat_tick=1,
                max_batch=self.max_batch,
                voter=storage.voter,
            )
            server = PaxosServer(paxos, storage, env.rng, options)
        else:
            zab_storage = DiskZabStorage.open(env.disk)
            zab = ZabConfig(
                id=me,
                members=members,
                election_tick=self.election_tick,
                heartbeat_tick=1,
                establish_ticks=4 * self.election_tick,
                max_batch=self.max_batch,
                voter=zab_storage.voter,
            )
            server = ZabServer(zab, zab_storage, env.rng, options)
        return BatchingServer(server) if self.batching else server

    def factory(self, observer: RunObserver | None = None) -> NodeFactory:
        def build(env: NodeEnv) -> ServerNode:
            clock = TickClock(self.tick, self.max_catch_up)
            return ServerNode(env, self.server(env), clock, observer)

        return build
