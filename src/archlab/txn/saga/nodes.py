"""The orchestrated saga's servers: account services and the orchestrator (codex 6.1).

:class:`BankNode` hosts a :class:`~archlab.txn.saga.bank.Bank`: it answers each
:class:`~archlab.txn.saga.messages.Action` once its ledger record is durable (``Sync`` before
the reply), and balance queries at once. :class:`OrchestratorNode` hosts the
:class:`~archlab.txn.saga.orchestrator.Orchestrator` for clients' transfers and a
:class:`~archlab.txn.saga.observer.BalanceReader` for observers.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from archlab.sim.process import Address, Effect, NodeEnv, NodeFactory, Reply, Request, Send, Sync
from archlab.txn.saga.bank import Bank, BankConfig
from archlab.txn.saga.messages import Action, ActionResult, BalanceQuery, Balances, Rejected
from archlab.txn.saga.observer import BalanceReader
from archlab.txn.saga.orchestrator import Orchestrator, OrchestratorConfig, Plan


class BankNode:
    """An account service (see the module docstring)."""

    def __init__(self, env: NodeEnv, config: BankConfig) -> None:
        self.bank = Bank(env.disk, config)

    def start(self, now: float) -> list[Effect]:
        return []

    def on_request(self, now: float, request: Request) -> list[Effect]:
        return [Reply(request, Rejected("clients talk to the orchestrator"))]

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        return []

    def on_message(self, now: float, src: Address, message: Any) -> list[Effect]:
        if isinstance(message, Action):
            result = self.bank.handle(message)
            if self.bank.write():
                return [Sync(), Send(src, result)]  # durable before the answer
            return [Send(src, result)]
        if isinstance(message, BalanceQuery):
            return [Send(src, Balances(message.nonce, self.bank.snapshot()))]
        return []


class OrchestratorNode:
    """The orchestrator's server (see the module docstring)."""

    def __init__(
        self, env: NodeEnv, plan: Plan, config: OrchestratorConfig, banks: tuple[Address, ...]
    ) -> None:
        self.orchestrator = Orchestrator(env.address, env.incarnation, env.disk, plan, config)
        self.reader = BalanceReader(banks)

    def start(self, now: float) -> list[Effect]:
        return self.orchestrator.recover(now)

    def on_request(self, now: float, request: Request) -> list[Effect]:
        if request.op.f == "audit":
            return self.reader.begin(request)
        return self.orchestrator.begin(now, request)

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        assert isinstance(key, tuple)
        if key[0] == "balances":
            return self.reader.on_timer(key)
        return self.orchestrator.on_timer(now, key)

    def on_message(self, now: float, src: Address, message: Any) -> list[Effect]:
        if isinstance(message, ActionResult):
            return self.orchestrator.on_result(now, src, message)
        if isinstance(message, Balances):
            return self.reader.on_balances(src, message)
        return []


def orchestrated_factory(
    orchestrator: Address,
    plan: Plan,
    config: OrchestratorConfig,
    banks: dict[Address, BankConfig],
    observed: tuple[Address, ...],
) -> NodeFactory:
    """Servers: the orchestrator at ``orchestrator``, a bank at each address of ``banks``."""

    def build(env: NodeEnv) -> OrchestratorNode | BankNode:
        if env.address == orchestrator:
            return OrchestratorNode(env, plan, config, observed)
        return BankNode(env, banks[env.address])

    return build
