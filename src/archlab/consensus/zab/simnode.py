"""A Zab cluster in the simulator: the node factory (codex 5.3).

:class:`SimZab` says how each simulated host runs Zab: a
:class:`~archlab.consensus.zab.server.ZabServer` over a
:class:`~archlab.consensus.zab.simstorage.DiskZabStorage` on the host's disk, ticked every
``tick`` seconds of the host's clock by a :class:`~archlab.consensus.simhost.ServerNode`. Every
host of the world is a member (servers ``1..N``); membership is static. A host whose disk was
wiped (a volatile restart) comes back as an observer (see
:class:`~archlab.consensus.zab.config.ZabConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from archlab.consensus.replica import ReplicaOptions
from archlab.consensus.simhost import RunObserver, ServerNode, TickClock, server_id
from archlab.consensus.zab.config import ZabConfig
from archlab.consensus.zab.order import OrderChecker
from archlab.consensus.zab.server import ZabServer
from archlab.consensus.zab.simstorage import DiskZabStorage
from archlab.sim.disk import Disk
from archlab.sim.process import Address, NodeEnv, NodeFactory


@dataclass(frozen=True)
class SimZab:
    config: ZabConfig = field(default_factory=lambda: ZabConfig(id=1, members=frozenset({1})))
    options: ReplicaOptions = field(default_factory=ReplicaOptions)
    tick: float = 0.01

    @property
    def max_catch_up(self) -> int:
        return 2 * self.config.timeout_range[1] + 2

    def bootstrap(self, address: Address, servers: tuple[Address, ...], disk: Disk) -> None:
        """Mark the founding members' disks."""
        DiskZabStorage.bootstrap(disk)

    def factory(
        self, observer: RunObserver | None = None, order: OrderChecker | None = None
    ) -> NodeFactory:
        """Host nodes; with ``order``, every server reports broadcasts and deliveries to it."""

        def build(env: NodeEnv) -> ServerNode:
            storage = DiskZabStorage.open(env.disk)
            members = frozenset(range(1, len(env.peers) + 1))
            config = replace(
                self.config,
                id=server_id(env.address, env.peers),
                members=members,
                voter=storage.voter,
            )
            server = ZabServer(config, storage, env.rng, self.options, order)
            return ServerNode(env, server, TickClock(self.tick, self.max_catch_up), observer)

        return build
