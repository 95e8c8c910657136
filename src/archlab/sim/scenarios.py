"""The simulator's own scenario: ``archlab sim register`` (codex 5.1).

The primary-backup register of :mod:`archlab.sim.register` with clients reading, writing and
compare-and-setting one register, checked against the ``cas-register`` model.
"""

from __future__ import annotations

from typing import cast

from archlab.sim.register import (
    VARIANTS,
    RegisterConfig,
    RegisterStub,
    Variant,
    bootstrap,
    node_factory,
)
from archlab.sim.scenario import RunConfig, Scenario, ScenarioOption, register_scenario
from archlab.sim.workload import RegisterWorkload
from archlab.sim.world import World


@register_scenario
class RegisterScenario(Scenario):
    name = "register"
    summary = "Primary-backup replicated register: correct or broken (acks before replicating)"
    model = "cas-register"
    options = (
        ScenarioOption(
            "variant",
            "correct",
            "correct: synchronous replication, failover only to an up-to-date backup; "
            "broken: acknowledges before replicating, promotes any backup",
            choices=VARIANTS,
        ),
    )
    examples = (
        "archlab sim register --seed 7 --nemesis partition,crash",
        "archlab sim register --variant broken --seeds 1-50 --nemesis partition,crash,loss",
        "archlab sim register --seeds 1-1000 --nemesis partition,crash,loss",
        "archlab sim register --variant broken --seed 3 --nemesis partition "
        "--history h.jsonl --timeline t.html",
    )

    def build(self, config: RunConfig) -> World:
        variant = cast(Variant, config.option("variant"))
        protocol = RegisterConfig(variant=variant)
        return World(
            node_factory=node_factory(protocol),
            stub_factory=lambda servers, rng: RegisterStub(servers),
            workload=RegisterWorkload(),
            bootstrap=bootstrap,
            **config.world_kwargs(),
        )
