"""``archlab sim zab``: Zab replicating the key-value store under faults (codex 5.3).

The same clients, workload and checks as ``archlab sim raft`` and ``archlab sim paxos``
(:class:`~archlab.consensus.simscenario.ConsensusScenario`: ``kv`` linearizability, replica
agreement — which is Zab's agreement on delivered prefixes —, at most one leader established
per epoch, persist before send), against a cluster of
:class:`~archlab.consensus.zab.server.ZabServer` s. Reads go through the broadcast.

Options: ``--flaw skip-sync`` (Zab without its synchronization phase; see
:class:`~archlab.consensus.zab.config.Flaws`), ``--max-batch`` (transactions per Proposal),
``--compact-after`` (delivered transactions between snapshots), ``--keys``. Membership is
static: ``--nemesis membership`` is refused.
"""

from __future__ import annotations

from archlab.consensus.replica import ReplicaOptions
from archlab.consensus.simscenario import (
    KEYS_OPTION,
    LEADER_FAULTS_OPTION,
    READS_OPTION,
    VALUES_OPTION,
    StaticConsensusScenario,
    batching,
    chosen_flaw,
)
from archlab.consensus.zab.config import Flaws, ZabConfig
from archlab.consensus.zab.simnode import SimZab
from archlab.errors import ConfigError
from archlab.sim.scenario import RunConfig, ScenarioOption, register_scenario

FLAWS = {
    "none": Flaws(),
    "skip-sync": Flaws(skip_synchronization=True),
    "read-without-quorum": Flaws(read_without_quorum_check=True),
}

#: How reads are served (see :mod:`archlab.consensus.readindex`).
READ_MODES = ("quorum", "log")


def zab_settings(config: RunConfig) -> SimZab:
    flaws = chosen_flaw(config, FLAWS)
    max_batch, compact_after = batching(config)
    zab = ZabConfig(
        id=1,
        members=frozenset({1}),
        election_tick=10,
        heartbeat_tick=1,
        establish_ticks=40,
        max_batch=max_batch,
        max_inflight=256,
        flaws=flaws,
    )
    read_mode = str(config.option("read_mode"))
    if read_mode not in READ_MODES:
        raise ConfigError(f"--read-mode: {read_mode!r} is not one of {', '.join(READ_MODES)}")
    options = ReplicaOptions(
        compact_after=compact_after, check_persist=True, log_reads=read_mode == "log"
    )
    return SimZab(config=zab, options=options, tick=0.01)


@register_scenario
class ZabScenario(StaticConsensusScenario):
    name = "zab"
    protocol = "Zab"
    summary = "Zab replicating a key-value store (election, discovery, synchronization, broadcast)"
    options = (
        ScenarioOption(
            "flaw",
            "none",
            "TESTING AID: skip-sync runs Zab without its synchronization phase.",
            choices=tuple(FLAWS),
        ),
        ScenarioOption("max_batch", 8, "Transactions per Proposal message."),
        ScenarioOption("compact_after", 64, "Delivered transactions between two snapshots."),
        ScenarioOption(
            "read_mode",
            "quorum",
            "How reads are served: quorum (a heartbeat round confirms the leader, no log "
            "entry) or log (reads go through the log like writes).",
            choices=READ_MODES,
        ),
        KEYS_OPTION,
        VALUES_OPTION,
        READS_OPTION,
        LEADER_FAULTS_OPTION,
    )
    examples = (
        "archlab sim zab --seed 7 --nemesis partition,crash",
        "archlab sim zab --seeds 1-100 --nemesis partition,crash,pause,loss,dup,reorder,clock-skew",
        "archlab sim zab --flaw skip-sync --seeds 1-50 --nemesis partition,crash",
        "archlab sim zab --seed 3 --nemesis crash --history h.jsonl --timeline t.html",
    )

    def settings(self, config: RunConfig) -> SimZab:
        return zab_settings(config)
