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

from archlab.consensus.paxos.scenarios import refuse_unsupported
from archlab.consensus.replica import ReplicaOptions
from archlab.consensus.simhost import RunObserver
from archlab.consensus.simscenario import KEYS_OPTION, ConsensusScenario
from archlab.consensus.zab.config import Flaws, ZabConfig
from archlab.consensus.zab.simnode import SimZab
from archlab.errors import ConfigError
from archlab.sim.scenario import RunConfig, ScenarioOption, register_scenario
from archlab.sim.world import World

FLAWS = {"none": Flaws(), "skip-sync": Flaws(skip_synchronization=True)}


def zab_settings(config: RunConfig) -> SimZab:
    flaw = str(config.option("flaw"))
    if flaw not in FLAWS:
        raise ConfigError(f"--flaw: {flaw!r} is not one of {', '.join(FLAWS)}")
    max_batch = int(config.option("max_batch"))
    compact_after = int(config.option("compact_after"))
    if max_batch < 1 or compact_after < 1:
        raise ConfigError("--max-batch and --compact-after must be at least 1")
    zab = ZabConfig(
        id=1,
        members=frozenset({1}),
        election_tick=10,
        heartbeat_tick=1,
        establish_ticks=40,
        max_batch=max_batch,
        max_inflight=256,
        flaws=FLAWS[flaw],
    )
    options = ReplicaOptions(compact_after=compact_after, check_persist=True)
    return SimZab(config=zab, options=options, tick=0.01)


@register_scenario
class ZabScenario(ConsensusScenario):
    name = "zab"
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
        KEYS_OPTION,
    )
    examples = (
        "archlab sim zab --seed 7 --nemesis partition,crash",
        "archlab sim zab --seeds 1-100 --nemesis partition,crash,pause,loss,dup,reorder,clock-skew",
        "archlab sim zab --flaw skip-sync --seeds 1-50 --nemesis partition,crash",
        "archlab sim zab --seed 3 --nemesis crash --history h.jsonl --timeline t.html",
    )

    def build(self, config: RunConfig) -> World:
        refuse_unsupported("Zab", config)
        settings = zab_settings(config)
        observer = RunObserver()
        return self.world(
            config,
            settings.factory(observer),
            observer,
            bootstrap=settings.bootstrap,
        )
