"""A money transfer as a choreographed saga: services reacting to events (codex 6.1).

No one runs the saga. Each service does its local transaction when an event reaches it and
publishes the event that says what happened; the next service reacts to that:

===================  ==========================  =========================================
service              on                          does, then publishes
===================  ==========================  =========================================
bank of ``src``      a client's transfer         debit ``src`` → ``debited`` (refused: the
                                                 client is told, nothing else happens)
bank of ``dst``      ``debited``                 credit ``dst`` → ``credited``, or
                                                 ``credit-refused`` (closed account)
ledger               ``credited``                debit ``allowance:src`` → ``recorded``, or
                                                 ``limit-refused`` (over the limit)
bank of ``dst``      ``limit-refused``           undo the credit → ``credit-reversed``
bank of ``src``      ``credit-refused`` or       undo the debit: the transfer is
                     ``credit-reversed``         compensated (client told ``fail``)
bank of ``src``      ``recorded``                the transfer committed (client told ``ok``)
===================  ==========================  =========================================

Delivery is at least once, through a **transactional outbox**: the local transaction and the
event it publishes are written as one ledger record (``Bank.write``), synced before the
event is sent; the event is resent until the receiver acknowledges it (also after a crash,
from the outbox). Receivers drop events they have already handled (their ids are in their own
outbox records) and the bank's idempotency keys (``<saga>/<step>``) make a repeated action
harmless. With ``idempotent=False`` neither protection exists: the broken variant of the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal

from archlab.sim.process import (
    Address,
    Effect,
    NodeEnv,
    NodeFactory,
    Op,
    Reply,
    Request,
    Send,
    SetTimer,
    Sync,
)
from archlab.txn.saga.bank import Bank, BankConfig
from archlab.txn.saga.messages import (
    Action,
    BalanceQuery,
    Balances,
    Rejected,
    SagaOutcome,
)
from archlab.txn.saga.observer import BalanceReader

Transfer = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    saga: str
    transfer: Transfer

    @property
    def id(self) -> str:
        return f"{self.saga}:{self.kind}"


@dataclass(frozen=True, slots=True)
class EventAck:
    id: str


@dataclass(frozen=True)
class ChoreographyConfig:
    """Who owns which account, where the ledger is, and how often to resend."""

    owner: Callable[[str], Address]
    ledger: Address
    banks: tuple[Address, ...]
    accounts: dict[Address, dict[str, int]]
    retry: float = 0.05
    idempotent: bool = True


def allowance(account: str) -> str:
    """The ledger account that caps what ``account`` may send."""
    return f"allowance:{account}"


class ChoreographyNode:
    """One service of the choreographed transfer (see the module docstring)."""

    def __init__(self, env: NodeEnv, config: ChoreographyConfig) -> None:
        self.env = env
        self.me = env.address
        self.config = config
        self.bank = Bank(env.disk, BankConfig(config.accounts.get(self.me, {}), config.idempotent))
        self.handled: set[str] = set()
        self.unacked: dict[str, tuple[Address, Event]] = {}
        self.waiting: dict[str, Request] = {}
        self.outcomes: dict[str, str] = {}
        self.reader = BalanceReader(config.banks)
        self.seq = 0
        for record in self.bank.extras:  # the outbox, replayed from the ledger
            if record.get("handled"):
                self.handled.add(record["handled"])
            if record["t"] == "publish":
                event = Event(record["kind"], record["saga"], _transfer(record["transfer"]))
                self.unacked[event.id] = (record["to"], event)
            elif record["t"] == "acked":
                self.unacked.pop(record["id"], None)
            elif record["t"] == "outcome":
                self.outcomes[record["saga"]] = record["outcome"]

    def start(self, now: float) -> list[Effect]:
        resend: list[Effect] = [Send(to, event) for to, event in self.unacked.values()]
        return [*resend, SetTimer("outbox", self.config.retry)]

    # -- inputs -------------------------------------------------------------------------

    def on_request(self, now: float, request: Request) -> list[Effect]:
        op: Op = request.op
        if op.f == "audit":
            return self.reader.begin(request)
        if op.f != "transfer":
            return [Reply(request, Rejected(f"unknown operation {op.f!r}"))]
        src, dst, amount = op.value
        if self.config.owner(src) != self.me:
            return [Reply(request, Rejected(f"{src} is not held here"))]
        self.seq += 1
        saga = f"{self.me}.{self.env.incarnation}.{self.seq}"
        transfer: Transfer = (src, dst, int(amount))
        result = self.bank.handle(Action(f"{saga}/0", "debit", src, int(amount)))
        if not result.ok:
            self.bank.write({"t": "outcome", "saga": saga, "outcome": "rejected"})
            return [Sync(), Reply(request, SagaOutcome(saga, "compensated", result.reason))]
        self.waiting[saga] = request
        return self._publish(None, Event("debited", saga, transfer), self.config.owner(dst))

    def on_message(self, now: float, src: Address, message: Any) -> list[Effect]:
        if isinstance(message, EventAck):
            if self.unacked.pop(message.id, None) is not None:
                self.bank.write({"t": "acked", "id": message.id})  # lazily durable
            return []
        if isinstance(message, BalanceQuery):
            return [Send(src, Balances(message.nonce, self.bank.snapshot()))]
        if isinstance(message, Balances):
            return self.reader.on_balances(src, message)
        if not isinstance(message, Event):
            return []
        ack: list[Effect] = [Send(src, EventAck(message.id))]
        if message.id in self.handled and self.config.idempotent:
            return ack
        return [*self._react(message), *ack]

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        if key == "outbox":
            resend: list[Effect] = [Send(to, event) for to, event in self.unacked.values()]
            return [*resend, SetTimer("outbox", self.config.retry)]
        return self.reader.on_timer(key)

    # -- reactions ----------------------------------------------------------------------

    def _react(self, event: Event) -> list[Effect]:  # noqa: PLR0911 - a choreography service's event dispatch: one return per event type
        saga, (src, dst, amount) = event.saga, event.transfer
        owner, ledger, t = self.config.owner, self.config.ledger, event.transfer
        if event.kind == "debited":
            if self.bank.handle(Action(f"{saga}/1", "credit", dst, amount)).ok:
                return self._publish(event, Event("credited", saga, t), ledger)
            return self._publish(event, Event("credit-refused", saga, t), owner(src))
        if event.kind == "credited":
            if self.bank.handle(Action(f"{saga}/2", "debit", allowance(src), amount)).ok:
                return self._publish(event, Event("recorded", saga, t), owner(src))
            return self._publish(event, Event("limit-refused", saga, t), owner(dst))
        if event.kind == "limit-refused":
            self.bank.handle(Action(f"{saga}/1/undo", "undo", dst, amount, of=f"{saga}/1"))
            return self._publish(event, Event("credit-reversed", saga, t), owner(src))
        if event.kind in ("credit-refused", "credit-reversed"):
            self.bank.handle(Action(f"{saga}/0/undo", "undo", src, amount, of=f"{saga}/0"))
            return self._finish(event, "compensated")
        if event.kind == "recorded":
            return self._finish(event, "committed")
        return []

    def _publish(self, cause: Event | None, event: Event, to: Address) -> list[Effect]:
        """The outbox: the local transaction and its event are one record, synced, then sent."""
        if cause is not None:
            self.handled.add(cause.id)
        self.bank.write(
            {
                "t": "publish",
                "kind": event.kind,
                "saga": event.saga,
                "transfer": list(event.transfer),
                "to": to,
                "handled": cause.id if cause is not None else None,
            }
        )
        self.unacked[event.id] = (to, event)
        return [Sync(), Send(to, event)]

    def _finish(self, cause: Event, outcome: Literal["committed", "compensated"]) -> list[Effect]:
        self.handled.add(cause.id)
        self.bank.write(
            {"t": "outcome", "saga": cause.saga, "outcome": outcome, "handled": cause.id}
        )
        self.outcomes[cause.saga] = outcome
        effects: list[Effect] = [Sync()]
        request = self.waiting.pop(cause.saga, None)
        if request is not None:
            effects.append(Reply(request, SagaOutcome(cause.saga, outcome)))
        return effects


def _transfer(value: Any) -> Transfer:
    src, dst, amount = value
    return (str(src), str(dst), int(amount))


def choreography_factory(config: ChoreographyConfig) -> NodeFactory:
    def build(env: NodeEnv) -> ChoreographyNode:
        return ChoreographyNode(env, config)

    return build
