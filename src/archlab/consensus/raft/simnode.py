"""A Raft cluster in the simulator: the node factory and the founding members' disks (codex 5.3).

:class:`SimRaft` says how each simulated host runs Raft: a
:class:`~archlab.consensus.raft.server.RaftServer` over a
:class:`~archlab.consensus.raft.simstorage.DiskStorage` on the host's disk, ticked every
``tick`` seconds of the host's clock by a :class:`~archlab.consensus.simhost.ServerNode`. The
first ``voters`` hosts are the founding members (their disks are bootstrapped with the initial
configuration); further hosts boot with empty disks and wait, as non-members, to be added by a
membership change. Every host's disk is provisioned with a recovery mark; a host whose disk was
wiped (a volatile restart) finds none, so its node starts *recovering*: it refuses to vote and
is re-admitted by demotion to learner and promotion (:mod:`archlab.consensus.raft.recovery`).
With the ``trust_wiped_disk`` flaw it rejoins as if nothing had happened, as an empty voter:
the broken variant that the wiped-disk sweep catches.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from archlab.consensus.raft.config import RaftConfig
from archlab.consensus.raft.server import RaftServer, ServerOptions
from archlab.consensus.raft.simstorage import DiskRecoveryMark, DiskStorage
from archlab.consensus.raft.types import ConfState
from archlab.consensus.simhost import RunObserver, ServerNode, TickClock, server_id
from archlab.sim.disk import Disk
from archlab.sim.process import Address, NodeEnv, NodeFactory


@dataclass(frozen=True)
class SimRaft:
    """The Raft settings of a simulated cluster (``config.id`` is replaced per host)."""

    voters: int = 3
    config: RaftConfig = field(default_factory=lambda: RaftConfig(id=1))
    options: ServerOptions = field(default_factory=ServerOptions)
    #: Seconds of a host's clock per Raft tick.
    tick: float = 0.01

    def __post_init__(self) -> None:
        if self.voters < 1 or self.tick <= 0:
            raise ValueError("a simulated Raft cluster needs voters >= 1 and a positive tick")

    @property
    def max_catch_up(self) -> int:
        """Ticks run at most at once after a pause: enough to expire any timeout or lease."""
        return 2 * self.config.timeout_range[1] + 2

    def bootstrap(self, address: Address, servers: tuple[Address, ...], disk: Disk) -> None:
        """Provision every disk; install the initial configuration on the founding members'."""
        DiskRecoveryMark.provision(disk)
        if server_id(address, servers) <= self.voters:
            DiskStorage.bootstrap(disk, ConfState.of(list(range(1, self.voters + 1))))

    def factory(self, observer: RunObserver | None = None) -> NodeFactory:
        """Build a host's node: reopen its storage, restore the state machine, start ticking."""

        def build(env: NodeEnv) -> ServerNode:
            storage = DiskStorage.open(env.disk)
            config = replace(self.config, id=server_id(env.address, env.peers))
            mark = None if config.flaws.trust_wiped_disk else DiskRecoveryMark.open(env.disk)
            server = RaftServer(config, storage, env.rng, self.options, mark)
            return ServerNode(env, server, TickClock(self.tick, self.max_catch_up), observer)

        return build
