"""``archlab sim paxos``: Multi-Paxos replicating the key-value store under faults (codex 5.3).

The same clients, workload and checks as ``archlab sim raft``
(:class:`~archlab.consensus.simscenario.ConsensusScenario`: ``kv`` linearizability, replica
agreement, the servers' invariants), against a cluster of
:class:`~archlab.consensus.paxos.server.PaxosServer` s. Reads go through the log.

Options: ``--flaw skip-phase1`` (**a testing aid**: a new leader skips phase 1, to see the
checks catch it), ``--max-batch`` (slots per Accept), ``--compact-after`` (applied slots
between snapshots), ``--keys``. Membership is static: ``--nemesis membership`` is refused.
"""

from __future__ import annotations

from archlab.consensus.paxos.config import Flaws, PaxosConfig
from archlab.consensus.paxos.simnode import SimPaxos
from archlab.consensus.replica import ReplicaOptions
from archlab.consensus.simscenario import (
    KEYS_OPTION,
    LEADER_FAULTS_OPTION,
    READS_OPTION,
    VALUES_OPTION,
    StaticConsensusScenario,
    batching,
    chosen_flaw,
    refuse_unsupported,
)
from archlab.errors import ConfigError
from archlab.sim.scenario import RunConfig, ScenarioOption, register_scenario

__all__ = ["FLAWS", "PaxosScenario", "paxos_settings", "refuse_unsupported"]

FLAWS = {
    "none": Flaws(),
    "skip-phase1": Flaws(skip_phase1_after_leader_change=True),
    "read-without-quorum": Flaws(read_without_quorum_check=True),
}

#: How reads are served (see :mod:`archlab.consensus.readindex`).
READ_MODES = ("quorum", "log")


def paxos_settings(config: RunConfig) -> SimPaxos:
    flaws = chosen_flaw(config, FLAWS)
    max_batch, compact_after = batching(config)
    paxos = PaxosConfig(
        id=1,
        members=frozenset({1}),
        election_tick=10,
        heartbeat_tick=1,
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
    return SimPaxos(config=paxos, options=options, tick=0.01)


@register_scenario
class PaxosScenario(StaticConsensusScenario):
    name = "paxos"
    protocol = "Multi-Paxos"
    summary = "Multi-Paxos replicating a key-value store (phase 1 per ballot, batched phase 2)"
    options = (
        ScenarioOption(
            "flaw",
            "none",
            "TESTING AID: run a deliberately broken Multi-Paxos to see the checks catch it.",
            choices=tuple(FLAWS),
        ),
        ScenarioOption("max_batch", 8, "Slots per Accept (and Learn) message."),
        ScenarioOption("compact_after", 64, "Applied slots between two snapshots."),
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
        "archlab sim paxos --seed 7 --nemesis partition,crash",
        "archlab sim paxos --seeds 1-100 --nemesis "
        "partition,crash,pause,loss,dup,reorder,clock-skew",
        "archlab sim paxos --flaw skip-phase1 --seeds 1-100 --nemesis partition,crash",
        "archlab sim paxos --seed 3 --nemesis partition --history h.jsonl --timeline t.html",
    )

    def settings(self, config: RunConfig) -> SimPaxos:
        return paxos_settings(config)
