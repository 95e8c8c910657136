"""An account service: local transactions with idempotency keys and compensations (6.1).

A :class:`Bank` owns some accounts. Each :class:`~archlab.txn.saga.messages.Action` is one
local transaction, made durable before it is answered (one log record, synced):

- ``debit``: take ``amount`` from the account; refused if the balance would go negative or
  the account is closed;
- ``credit``: add ``amount``; refused if the account is closed;
- ``undo``: compensate the action whose key is ``of``. If it was applied, apply its inverse (a
  credit back for a debit; a debit back for a credit, *forced*: a compensation must succeed,
  so it may drive a balance negative, which :attr:`Bank.overdrawn` counts); if it was never
  applied, leave a *tombstone* so that the action, should it still arrive, is refused; undoing
  twice does nothing more.

**Idempotency**: the first answer to a key is recorded with the action and every repeat of
that key gets it back unchanged, so retries never apply twice. ``idempotent=False`` is the
deliberately broken service of the tests: it applies every delivery it receives.

:meth:`Bank.handle` applies an action in memory and stages its record; :meth:`Bank.write`
appends it, together with whatever the caller must make durable at the same instant (a
choreographed service's outgoing event: the transactional outbox), as one checksummed record,
so a crash keeps both or neither. The ledger on disk is the durable truth
:mod:`archlab.txn.saga.audit` reads back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archlab.sim.disk import Disk
from archlab.sim.records import RecordLog, decode, encode
from archlab.txn.saga.messages import Action, ActionResult

LEDGER_FILE = "bank.ledger"
CLOSED = -1


@dataclass(frozen=True)
class BankConfig:
    #: Opening balances; an account opened at :data:`CLOSED` refuses money.
    accounts: Mapping[str, int]
    idempotent: bool = True


class Bank:
    """One service's accounts and ledger (see the module docstring)."""

    def __init__(self, disk: Disk, config: BankConfig) -> None:
        self.config = config
        self.balances: dict[str, int] = {a: b for a, b in config.accounts.items() if b != CLOSED}
        self.closed = {a for a, b in config.accounts.items() if b == CLOSED}
        self.answers: dict[str, ActionResult] = {}
        self.applied: dict[str, Action] = {}
        self.undone: set[str] = set()
        self.tombstones: set[str] = set()
        self.overdrawn = 0
        #: Times each forward key was applied, and each applied key was compensated (more
        #: than once only in the broken, non-idempotent variant).
        self.applications: Counter[str] = Counter()
        self.compensations: Counter[str] = Counter()
        #: What callers stored beside the actions (an outbox), in ledger order.
        self.extras: list[dict[str, Any]] = []
        self._staged: dict[str, Any] | None = None
        self.log = RecordLog.open(disk, LEDGER_FILE)
        for payload in self.log.records:
            record = decode(payload)
            if "key" in record:
                self._apply(
                    Action(
                        record["key"],
                        record["kind"],
                        record["account"],
                        int(record["amount"]),
                        record["of"],
                    )
                )
            if "extra" in record:
                self.extras.append(record["extra"])

    def owns(self, account: str) -> bool:
        return account in self.balances or account in self.closed

    def handle(self, action: Action) -> ActionResult:
        """Answer ``action``, applying it in memory; :meth:`write` then makes it durable."""
        if self.config.idempotent:
            known = self.answers.get(action.key)
            if known is not None:
                return known
        self._staged = {
            "key": action.key,
            "kind": action.kind,
            "account": action.account,
            "amount": action.amount,
            "of": action.of,
        }
        return self._apply(action)

    def write(self, extra: dict[str, Any] | None = None) -> bool:
        """Append the staged action and ``extra`` as *one* record (atomic on disk).

        Returns whether anything was written (the caller syncs before answering).
        """
        record = self._staged or {}
        self._staged = None
        if extra is not None:
            record["extra"] = extra
            self.extras.append(extra)
        if not record:
            return False
        self.log.append(encode(record))
        return True

    def _apply(self, action: Action) -> ActionResult:
        """The deterministic effect of one ledger record (also used to replay the ledger)."""
        result = self._decide(action)
        self.answers[action.key] = result
        return result

    def _decide(self, action: Action) -> ActionResult:
        key = action.key
        if action.kind == "undo":
            return self._undo(action)
        if key in self.tombstones and self.config.idempotent:
            return ActionResult(key, False, "cancelled by its compensation")
        account = action.account
        if account in self.closed:
            return ActionResult(key, False, f"account {account} is closed")
        if account not in self.balances:
            return ActionResult(key, False, f"no account {account} here")
        if action.kind == "debit":
            if self.balances[account] < action.amount:
                return ActionResult(key, False, f"insufficient funds in {account}")
            self.balances[account] -= action.amount
        else:
            self.balances[account] += action.amount
        self.applied[key] = action
        self.applications[key] += 1
        return ActionResult(key, True)

    def _undo(self, undo: Action) -> ActionResult:
        target = self.applied.get(undo.of)
        if target is None:
            self.tombstones.add(undo.of)
            return ActionResult(undo.key, True, "nothing to undo")
        if undo.of in self.undone and self.config.idempotent:
            return ActionResult(undo.key, True, "already undone")
        self.undone.add(undo.of)
        self.compensations[undo.of] += 1
        sign = 1 if target.kind == "debit" else -1
        self.balances[target.account] += sign * target.amount
        if self.balances[target.account] < 0:
            self.overdrawn += 1
        return ActionResult(undo.key, True)

    def snapshot(self) -> tuple[tuple[str, int], ...]:
        return tuple(sorted(self.balances.items()))
