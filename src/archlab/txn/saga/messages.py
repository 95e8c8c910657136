"""The messages of the saga services (codex 6.1).

A saga step is one local transaction at one service, an :class:`Action` carrying an
*idempotency key*: the service applies a key at most once and answers a repeated key with the
first answer (:class:`ActionResult`), so a step can be retried safely after a timeout, a lost
reply or a crash. A compensation is an :class:`Action` of kind ``undo`` naming the key it
undoes (``of``) and with its own key. :class:`BalanceQuery` / :class:`Balances` let an observer
read a service's accounts (outside any transaction, as a dashboard would).

The replies to clients: :class:`SagaOutcome` (the saga ended: committed or compensated) and
:class:`Accepted` (the saga is durably begun and will finish on its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ActionKind = Literal["debit", "credit", "undo"]


@dataclass(frozen=True, slots=True)
class Action:
    key: str
    kind: ActionKind
    account: str
    amount: int
    #: For ``undo``: the key of the action it compensates.
    of: str = ""


@dataclass(frozen=True, slots=True)
class ActionResult:
    key: str
    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BalanceQuery:
    nonce: int


@dataclass(frozen=True, slots=True)
class Balances:
    nonce: int
    balances: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class SagaOutcome:
    saga: str
    outcome: Literal["committed", "compensated"]
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Accepted:
    saga: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """The request could not be started at all (nothing happened)."""

    reason: str
