"""A Multi-Paxos cluster in the simulator: the node factory (codex 5.3).

:class:`SimPaxos` says how each simulated host runs Multi-Paxos: a
:class:`~archlab.consensus.paxos.server.PaxosServer` over a
:class:`~archlab.consensus.paxos.simstorage.DiskPaxosStorage` on the host's disk, ticked every
``tick`` seconds of the host's clock by a :class:`~archlab.consensus.simhost.ServerNode`. Every
host of the world is a member (servers ``1..N``); membership is static. A host whose disk was
wiped (a volatile restart) comes back as a non-voting learner: its promises are gone, so it may
not vote again (see :class:`~archlab.consensus.paxos.config.PaxosConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from archlab.consensus.paxos.config import PaxosConfig
from archlab.consensus.paxos.server import PaxosServer
from archlab.consensus.paxos.simstorage import DiskPaxosStorage
from archlab.consensus.replica import ReplicaOptions
from archlab.consensus.simhost import RunObserver, ServerNode, TickClock, server_id
from archlab.sim.disk import Disk
from archlab.sim.process import Address, NodeEnv, NodeFactory


@dataclass(frozen=True)
class SimPaxos:
    """The Multi-Paxos settings of a simulated cluster (``id`` and ``members`` set per host)."""

    config: PaxosConfig = field(default_factory=lambda: PaxosConfig(id=1, members=frozenset({1})))
    options: ReplicaOptions = field(default_factory=ReplicaOptions)
    #: Seconds of a host's clock per tick.
    tick: float = 0.01

    @property
    def max_catch_up(self) -> int:
        return 2 * self.config.timeout_range[1] + 2

    def bootstrap(self, address: Address, servers: tuple[Address, ...], disk: Disk) -> None:
        """Mark the founding members' disks."""
        DiskPaxosStorage.bootstrap(disk)

    def factory(self, observer: RunObserver | None = None) -> NodeFactory:
        def build(env: NodeEnv) -> ServerNode:
            storage = DiskPaxosStorage.open(env.disk)
            members = frozenset(range(1, len(env.peers) + 1))
            config = replace(
                self.config,
                id=server_id(env.address, env.peers),
                members=members,
                voter=storage.voter,
            )
            server = PaxosServer(config, storage, env.rng, self.options)
            return ServerNode(env, server, TickClock(self.tick, self.max_catch_up), observer)

        return build
