"""``archlab sim twopc | spanner | saga``: the transaction protocols under injected faults.

Each scenario runs its protocol in a :class:`~archlab.txn.world.SettlingWorld` (the faults
heal, then the protocol gets time to finish) and checks what must hold:

``twopc``    atomicity from the durable logs (every participant decided alike, no commit
             without every yes vote, no decision unknown to the coordinator's log, nothing
             left in doubt) and the history's strict serializability (Elle's list-append
             analysis). Variants: ``correct``, ``no-decision-fsync`` (the coordinator sends its
             decision before it is durable), ``unilateral-abort`` (a prepared participant
             gives up on its own).
``spanner``  the same, on the Spanner-style store (TrueTime timestamps, lock-free snapshot
             reads), with ``commit-wait`` (correct), ``no-commit-wait`` or ``rogue-clock`` (a
             clock drifting past the bound TrueTime assumes). The ``clock-skew`` nemesis steps
             clocks, which TrueTime's assumption excludes: expect it to break the guarantee.
``saga``     the money-transfer saga, ``--design orchestration`` or ``choreography``: every
             saga fully committed or fully compensated, no step applied twice, money conserved.
             Variant ``no-idempotency``: services that apply every retry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, cast

from archlab.check.isolation import check_isolation
from archlab.sim.scenario import (
    CheckOutcome,
    RunConfig,
    Scenario,
    ScenarioOption,
    register_scenario,
)
from archlab.sim.workload import ListAppendWorkload
from archlab.sim.world import RunResult, World
from archlab.txn.saga.transfer import Design, TransferSetup, transfer_world
from archlab.txn.spanner import SnapshotMix, SpannerSetup, spanner_world
from archlab.txn.store import StoreConfig, TxnStub, store_factory
from archlab.txn.twopc.audit import atomicity_violations, audit_logs, outcome_counts
from archlab.txn.twopc.coordinator import CoordinatorConfig
from archlab.txn.twopc.participant import ParticipantConfig
from archlab.txn.world import SettlingWorld

SETTLE = 2.0


def _common(config: RunConfig) -> dict[str, Any]:
    return {
        "nemesis": config.nemesis,
        "fsync_latency": config.fsync,
        "torn_writes": config.torn_writes,
        "client_timeout": config.client_timeout,
        "think": config.think,
    }


def _check_store(result: RunResult) -> CheckOutcome:
    """Atomicity from the audit, then strict serializability of the history."""
    audit = result.stats["audit"]
    violations: list[str] = audit["violations"]
    counts = audit["counts"]
    if violations:
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        return CheckOutcome(False, f"NOT atomic: {violations[0]}{more}", {"audit": audit})
    strict = check_isolation(
        result.history, workload="list-append", consistency="strict-serializable"
    )
    details = {"audit": audit, "isolation": strict.to_dict()}
    tally = f"{counts['committed']} committed, {counts['aborted']} aborted"
    if strict.valid is False:
        return CheckOutcome(
            False,
            f"atomic ({tally}) but NOT strictly serializable: {strict.forbidden[0].explanation}",
            details,
            tuple(sorted(strict.highlight)),
        )
    if strict.valid == "unknown":
        return CheckOutcome(True, f"atomic ({tally}); nothing committed to check", details)
    return CheckOutcome(True, f"atomic and strictly serializable ({tally})", details)


@register_scenario
class TwoPhaseCommitScenario(Scenario):
    name = "twopc"
    summary = "Two-phase commit over sharded keys: atomicity and strict serializability"
    defaults: ClassVar[Mapping[str, Any]] = {"nodes": 4}
    options = (
        ScenarioOption(
            "variant",
            "correct",
            "correct; no-decision-fsync: decisions sent before they are durable; "
            "unilateral-abort: a prepared participant aborts on its own when the decision is late",
            choices=("correct", "no-decision-fsync", "unilateral-abort"),
        ),
    )
    examples = (
        "archlab sim twopc --seed 3 --nemesis partition,crash",
        "archlab sim twopc --seeds 1-200 --nemesis partition,crash,loss,dup",
        "archlab sim twopc --variant unilateral-abort --seeds 1-20 --nemesis partition,crash",
    )

    def build(self, config: RunConfig) -> World:
        variant = config.option("variant")
        servers = tuple(f"n{i}" for i in range(config.nodes))
        shards = servers[:-1] if len(servers) > 1 else servers
        store = StoreConfig(
            shards=shards,
            coordinators=servers,
            coordinator=CoordinatorConfig(no_decision_fsync=variant == "no-decision-fsync"),
            participant=ParticipantConfig(unilateral_abort=variant == "unilateral-abort"),
        )

        def audit(world: World) -> dict[str, Any]:
            logs = audit_logs({a: h.disk for a, h in world.hosts.items()}, shards, servers)
            return {"violations": atomicity_violations(logs), "counts": outcome_counts(logs)}

        return SettlingWorld(
            seed=config.seed,
            node_factory=store_factory(store),
            stub_factory=lambda s, rng: TxnStub(servers, rng, empty=()),
            workload=ListAppendWorkload(),
            nodes=config.nodes,
            clients=config.clients,
            ops=config.ops,
            link=config.world_kwargs()["link"],
            settle=SETTLE,
            audit=audit,
            **_common(config),
        )

    def check(self, result: RunResult, config: RunConfig) -> CheckOutcome:
        return _check_store(result)


@register_scenario
class SpannerScenario(Scenario):
    name = "spanner"
    summary = "Spanner-style store: TrueTime, commit wait, snapshot reads; strict serializability"
    defaults: ClassVar[Mapping[str, Any]] = {"nodes": 3, "clients": 6}
    options = (
        ScenarioOption(
            "variant",
            "commit-wait",
            "commit-wait (correct); no-commit-wait; rogue-clock: commit wait, but one clock "
            "drifts 5x past the bound TrueTime assumes",
            choices=("commit-wait", "no-commit-wait", "rogue-clock"),
        ),
        ScenarioOption("drift_bound", 0.006, "the drift TrueTime assumes (s/s): ε's growth"),
    )
    examples = (
        "archlab sim spanner --seeds 1-50",
        "archlab sim spanner --variant no-commit-wait --seeds 1-50 --drift-bound 0.02",
        "archlab sim spanner --variant rogue-clock --seed 4 --history h.jsonl",
    )

    def build(self, config: RunConfig) -> World:
        variant = config.option("variant")
        bound = float(config.option("drift_bound"))
        setup = SpannerSetup(
            shards=config.nodes,
            commit_wait=variant != "no-commit-wait",
            drift_bound=bound,
            max_drift=bound,
            rogue_drift=5 * bound if variant == "rogue-clock" else None,
            latency=config.latency,
        )
        return spanner_world(
            config.seed,
            setup,
            SnapshotMix(),
            clients=config.clients,
            ops=config.ops,
            settle=SETTLE,
            **_common(config),
        )

    def check(self, result: RunResult, config: RunConfig) -> CheckOutcome:
        return _check_store(result)


@register_scenario
class SagaScenario(Scenario):
    name = "saga"
    summary = "Money-transfer saga (orchestrated or choreographed): all-or-nothing, exactly once"
    defaults: ClassVar[Mapping[str, Any]] = {"clients": 4, "ops": 150}
    options = (
        ScenarioOption(
            "design",
            "orchestration",
            "orchestration: a durable orchestrator; choreography: services reacting to events",
            choices=("orchestration", "choreography"),
        ),
        ScenarioOption(
            "variant",
            "correct",
            "correct; no-idempotency: services apply every delivery, retries included",
            choices=("correct", "no-idempotency"),
        ),
    )
    examples = (
        "archlab sim saga --seeds 1-100 --nemesis crash,loss,dup,partition",
        "archlab sim saga --design choreography --seeds 1-100 --nemesis crash,loss,dup",
        "archlab sim saga --variant no-idempotency --seeds 1-10 --nemesis loss,dup",
    )

    def build(self, config: RunConfig) -> World:
        design = cast(Design, config.option("design"))
        setup = TransferSetup(idempotent=config.option("variant") == "correct", allowance=200)
        return transfer_world(
            config.seed,
            setup,
            design,
            clients=config.clients,
            ops=config.ops,
            settle=SETTLE,
            latency=config.latency,
            **_common(config),
        )

    def check(self, result: RunResult, config: RunConfig) -> CheckOutcome:
        audit = result.stats["audit"]
        violations: list[str] = audit["violations"]
        tally = f"{audit['committed']} committed, {audit['compensated']} compensated"
        if violations:
            more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
            return CheckOutcome(False, f"{violations[0]}{more}", {"audit": audit})
        return CheckOutcome(
            True,
            f"every saga all-or-nothing, money conserved ({tally}, total {audit['total']})",
            {"audit": audit},
        )
