"""How long a Raft cluster takes to replace a crashed leader (codex 5.3; Raft paper §9.3).

One *trial* reproduces the Raft paper's Figure 16 measurement in the simulator: a cluster of
``servers`` Raft servers (:class:`~archlab.consensus.raft.server.RaftServer` on simulated hosts,
1 ms ticks, durable storage with a small fsync latency) elects a leader; the leader then
crashes at a random instant within its heartbeat interval (half the minimum election timeout,
as in the paper), and the trial measures the time from the crash until another server becomes
leader, or reports that none did within ``cap`` seconds. Election timeouts are drawn uniformly
from ``[timeout_min_ms, timeout_max_ms]``; message latency is uniform in ``latency_ms`` one
way, so a broadcast (a request to every server and the replies) takes about 15 ms.

The paper's Raft had neither pre-vote nor check-quorum; both are off by default here, and
``pre_vote=True`` measures what the extra round costs.
"""

from __future__ import annotations

from dataclasses import dataclass

from archlab.consensus.raft.config import RaftConfig
from archlab.consensus.raft.server import ServerOptions
from archlab.consensus.raft.simnode import SimRaft
from archlab.consensus.simhost import Admin, RunObserver, ServerNode
from archlab.sim.disk import Disk
from archlab.sim.host import Host
from archlab.sim.kernel import Simulation
from archlab.sim.latency import Constant, Uniform
from archlab.sim.network import LinkConfig, Network
from archlab.sim.trace import Trace

#: Time for the first leader to settle before the crash is scheduled.
_SETTLE = 0.05


@dataclass(frozen=True)
class FailoverSetup:
    """One configuration of the Figure 16 experiment."""

    timeout_min_ms: int = 150
    timeout_max_ms: int = 300
    servers: int = 5
    latency_ms: tuple[float, float] = (5.0, 10.0)
    fsync_ms: float = 0.5
    pre_vote: bool = False
    #: Give up on a trial after this many seconds without a new leader.
    cap: float = 10.0

    def __post_init__(self) -> None:
        if not 2 <= self.timeout_min_ms <= self.timeout_max_ms:
            raise ValueError("need 2 <= timeout_min_ms <= timeout_max_ms")
        if self.servers < 3:
            raise ValueError("a failover needs at least 3 servers")

    @property
    def label(self) -> str:
        return f"{self.timeout_min_ms}–{self.timeout_max_ms} ms"

    @property
    def heartbeat_ms(self) -> int:
        return max(1, self.timeout_min_ms // 2)

    def raft(self) -> SimRaft:
        config = RaftConfig(
            id=1,
            election_tick=self.timeout_min_ms,
            election_tick_max=self.timeout_max_ms,
            heartbeat_tick=self.heartbeat_ms,
            pre_vote=self.pre_vote,
            check_quorum=False,
        )
        return SimRaft(voters=self.servers, config=config, options=ServerOptions(), tick=0.001)


@dataclass(frozen=True)
class FailoverTrial:
    """One trial: seconds from the crash to the next leader (None: none within the cap), and
    how many terms (election rounds) the servers went through meanwhile."""

    seed: int
    election_time: float | None
    rounds: int


def _campaign(server: object) -> str:
    server.campaign()  # type: ignore[attr-defined]
    return "campaign"


def run_trial(setup: FailoverSetup, seed: int) -> FailoverTrial:
    """Elect a leader, crash it within a heartbeat interval, time the next election."""
    sim = Simulation(seed, Trace(enabled=False))
    low, high = setup.latency_ms
    network = Network(sim, LinkConfig(latency=Uniform(low / 1000, high / 1000)))
    raft = setup.raft()
    observer = RunObserver()
    addresses = tuple(f"n{i}" for i in range(setup.servers))
    hosts: dict[str, Host] = {}
    for address in addresses:
        disk = Disk()
        raft.bootstrap(address, addresses, disk)
        disk.fsync()
        hosts[address] = Host(
            sim,
            network,
            address,
            raft.factory(observer),
            addresses,
            disk=disk,
            fsync_latency=Constant(setup.fsync_ms / 1000),
        )
        hosts[address].boot()
    hosts[addresses[0]].deliver("setup", Admin(_campaign))
    leader = None
    while leader is None:  # short timeouts may need several rounds for the first leader
        sim.run(until=sim.now + _SETTLE)
        leader = _leader(hosts)
        if sim.now > setup.cap:
            raise RuntimeError(f"no first leader within {setup.cap} s ({setup.label})")
    old_term = observer_term(observer)
    crash_at = sim.now + sim.rng("crash").uniform(0.0, setup.heartbeat_ms / 1000)
    elected: list[float] = []

    def on_leader(event: str, address: str, term: int) -> None:
        if event == "elected" and term > old_term and not elected:
            elected.append(sim.now)
            sim.stop()

    sim.at(crash_at, hosts[leader].crash)
    observer.leader_listeners.append(on_leader)
    sim.run(until=crash_at + setup.cap)
    time = elected[0] - crash_at if elected else None
    return FailoverTrial(seed, time, _highest_term(hosts) - old_term)


def observer_term(observer: RunObserver) -> int:
    return max(observer.leaders, default=0)


def _highest_term(hosts: dict[str, Host]) -> int:
    terms = [
        node.server.node.term  # type: ignore[attr-defined]
        for host in hosts.values()
        if isinstance(node := host.node, ServerNode)
    ]
    return max(terms, default=0)


def _leader(hosts: dict[str, Host]) -> str | None:
    for address, host in hosts.items():
        node = host.node
        if isinstance(node, ServerNode) and node.server.leadership() is not None:
            return address
    return None
