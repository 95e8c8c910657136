"""``archlab sim raft``: Raft replicating the key-value store under faults (codex 5.3).

Clients read, write and compare-and-set several keys through
:class:`~archlab.consensus.simclient.KVClientStub` (sessions, leader redirects) against a
cluster of :class:`~archlab.consensus.raft.server.RaftServer` s on simulated hosts, while the
nemesis partitions, crashes, pauses, drops, duplicates and reorders, skews clocks and — with
``membership`` — adds and removes servers through single-server configuration changes proposed
to the current leader. Each history is checked as every consensus scenario's is
(:class:`~archlab.consensus.simscenario.ConsensusScenario`: ``kv`` linearizability, replica
agreement, one leader per term, persist before send).

Options of this scenario:

- ``--read-mode``: ``read-index`` (default), ``lease`` (no heartbeat round while the leader's
  lease holds: safe only while clocks drift less than the configured bound — ``--max-drift``
  beyond it, or ``--max-skew`` steps, can break it), or ``log`` (reads go through the log).
- ``--lease-drift-bound``: the ρ the lease is computed for (default 0.01, the nemesis's default
  ``--max-drift``).
- ``--flaw``: **a testing aid**: run a deliberately broken Raft, to see the checks catch it.
- ``--spares``: hosts beyond ``--nodes`` that start outside the cluster (``membership`` adds them).
- ``--max-batch``: entries per AppendEntries; ``--compact-after``: applied entries between
  snapshots (small values exercise InstallSnapshot).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from archlab.consensus.proposal import ProposalRejected
from archlab.consensus.raft.config import Flaws, RaftConfig, ReadMode
from archlab.consensus.raft.membership import ConfChange, ConfChangeError, ConfChangeKind
from archlab.consensus.raft.server import RaftServer, ServerOptions
from archlab.consensus.raft.simnode import SimRaft
from archlab.consensus.simhost import Admin, ServerNode, server_address
from archlab.consensus.simscenario import (
    CHECKS_OPTION,
    KEYS_OPTION,
    LEADER_FAULTS_OPTION,
    ON_VIOLATION_OPTION,
    READS_OPTION,
    VALUES_OPTION,
    ConsensusScenario,
    batching,
    chosen_flaw,
    current_leader,
    observer_for,
)
from archlab.errors import ConfigError
from archlab.randomness import RandomSource
from archlab.sim.scenario import RunConfig, ScenarioOption, register_scenario
from archlab.sim.world import World

READ_MODES = ("read-index", "lease", "log")
FLAWS = {
    "none": Flaws(),
    "vote-without-log-check": Flaws(grant_vote_without_log_check=True),
    "commit-previous-term": Flaws(commit_previous_term_by_counting=True),
    "reply-before-persisting-vote": Flaws(reply_before_persisting_vote=True),
    "trust-wiped-disk": Flaws(trust_wiped_disk=True),
}


def raft_settings(config: RunConfig) -> SimRaft:
    """The simulated Raft cluster a run configuration asks for."""
    read_mode = str(config.option("read_mode"))
    if read_mode not in READ_MODES:
        raise ConfigError(f"--read-mode: {read_mode!r} is not one of {', '.join(READ_MODES)}")
    flaws = chosen_flaw(config, FLAWS)
    max_batch, compact_after = batching(config)
    bound = float(config.option("lease_drift_bound"))
    if not 0 <= bound < 1:
        raise ConfigError(f"--lease-drift-bound must be in [0, 1), got {bound}")
    raft = RaftConfig(
        id=1,
        election_tick=10,
        heartbeat_tick=1,
        read_mode=ReadMode.LEASE if read_mode == "lease" else ReadMode.READ_INDEX,
        max_clock_drift=bound,
        max_entries_per_msg=max_batch,
        max_inflight=64,
        flaws=flaws,
    )
    options = ServerOptions(
        compact_after=compact_after, log_reads=read_mode == "log", check_persist=True
    )
    return SimRaft(voters=config.nodes, config=raft, options=options, tick=0.01)


class ConfChangeChooser:
    """The membership nemesis: one random single-server change, proposed to the leader.

    Outsiders (spares, removed servers) are added as learners or straight as voters, learners
    are promoted, and voters (the leader included) are removed while more than ``min_voters``
    remain.
    """

    def __init__(self, min_voters: int) -> None:
        self.min_voters = min_voters

    def __call__(self, world: World, rng: RandomSource) -> str:
        address = current_leader(world)
        if address is None:
            return "no leader: no change"
        leader = world.hosts[address].node
        assert isinstance(leader, ServerNode)
        server = leader.server
        assert isinstance(server, RaftServer)
        conf = server.node.conf
        everyone = range(1, len(world.servers) + 1)
        choices: list[ConfChange] = []
        for node in everyone:
            if node not in conf.members:
                choices.append(ConfChange(ConfChangeKind.ADD_LEARNER, node))
                choices.append(ConfChange(ConfChangeKind.ADD_VOTER, node))
            elif node in conf.learners:
                choices.append(ConfChange(ConfChangeKind.ADD_VOTER, node))
        if len(conf.voters) > self.min_voters:
            choices += [ConfChange(ConfChangeKind.REMOVE, v) for v in sorted(conf.voters)]
        if not choices:
            return "no change possible"
        change = rng.choice(choices)
        target = server_address(change.node, world.servers)
        what = f"{change.kind.value} {target} via {address}"

        def propose(on: object) -> str:
            assert isinstance(on, RaftServer)
            try:
                index = on.propose_conf_change(change)
            except (ProposalRejected, ConfChangeError) as refused:
                return f"membership: {what} refused ({refused})"
            return f"membership: {what} proposed at index {index}"

        world.hosts[address].deliver("nemesis", Admin(propose))
        return what


@register_scenario
class RaftScenario(ConsensusScenario):
    name = "raft"
    summary = "Raft replicating a key-value store (sessions, ReadIndex or leases, snapshots)"
    defaults: ClassVar[Mapping[str, Any]] = {"nodes": 3}
    supports_membership = True
    options = (
        ScenarioOption(
            "read_mode",
            "read-index",
            "How reads are served: read-index (a heartbeat round per batch of reads), lease "
            "(no round while the leader's lease holds; assumes bounded clock drift), or log.",
            choices=READ_MODES,
        ),
        ScenarioOption(
            "flaw",
            "none",
            "TESTING AID: run a deliberately broken Raft to see the checks catch it.",
            choices=tuple(FLAWS),
        ),
        ScenarioOption(
            "lease_drift_bound",
            0.01,
            "Clock drift rate the lease is computed to tolerate (lease = (T-1)(1-ρ)/(1+ρ) ticks).",
        ),
        ScenarioOption("spares", 1, "Hosts beyond --nodes that start outside the cluster."),
        ScenarioOption("max_batch", 8, "Entries per AppendEntries message."),
        ScenarioOption("compact_after", 64, "Applied entries between two snapshots."),
        KEYS_OPTION,
        VALUES_OPTION,
        READS_OPTION,
        LEADER_FAULTS_OPTION,
        CHECKS_OPTION,
        ON_VIOLATION_OPTION,
    )
    examples = (
        "archlab sim raft --seed 7 --nemesis partition,crash",
        "archlab sim raft --seeds 1-100 --nemesis "
        "partition,crash,pause,loss,dup,reorder,clock-skew,membership",
        "archlab sim raft --read-mode lease --seeds 1-50 --nemesis partition,clock-skew "
        "--max-drift 0.5",
        "archlab sim raft --flaw vote-without-log-check --seeds 1-100 --nemesis partition,crash",
        "archlab sim raft --seed 3 --nemesis partition --history h.jsonl --timeline t.html",
    )

    def build(self, config: RunConfig) -> World:
        settings = raft_settings(config)
        spares = int(config.option("spares"))
        if spares < 0:
            raise ConfigError(f"--spares must be >= 0, got {spares}")
        observer = observer_for(config)
        return self.world(
            config,
            settings.factory(observer),
            observer,
            bootstrap=settings.bootstrap,
            nodes=config.nodes + spares,
            membership=ConfChangeChooser(max(1, min(config.nodes - 1, 2))),
        )
