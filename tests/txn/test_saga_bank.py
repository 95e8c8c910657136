"""An account service: idempotency keys, compensations, tombstones, and its ledger replay."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from archlab.sim.disk import Disk
from archlab.txn.saga.bank import CLOSED, Bank, BankConfig
from archlab.txn.saga.messages import Action

ACCOUNTS = {"a": 100, "b": 100, "z": CLOSED}


def bank(disk: Disk | None = None, idempotent: bool = True) -> Bank:
    return Bank(disk or Disk(), BankConfig(ACCOUNTS, idempotent))


def test_a_retried_action_is_applied_once_and_answered_the_same() -> None:
    b = bank()
    first = b.handle(Action("s/0", "debit", "a", 30))
    assert b.write()
    again = b.handle(Action("s/0", "debit", "a", 30))
    assert again == first and not b.write()  # nothing new to make durable
    assert b.balances["a"] == 70


def test_without_idempotency_keys_a_retry_applies_twice() -> None:
    b = bank(idempotent=False)
    b.handle(Action("s/0", "debit", "a", 30))
    b.handle(Action("s/0", "debit", "a", 30))
    assert b.balances["a"] == 40 and b.applications["s/0"] == 2


def test_the_rules_refuse_and_a_refusal_is_remembered() -> None:
    b = bank()
    assert not b.handle(Action("s/0", "debit", "a", 500)).ok
    assert not b.handle(Action("t/1", "credit", "z", 5)).ok
    b.handle(Action("u/0", "credit", "a", 1000))
    # The same key keeps its first answer, even though the money is there now.
    assert not b.handle(Action("s/0", "debit", "a", 500)).ok


def test_undo_reverses_once_and_a_late_action_after_its_undo_is_refused() -> None:
    b = bank()
    b.handle(Action("s/0", "debit", "a", 30))
    assert b.handle(Action("s/0/undo", "undo", "a", 30, of="s/0")).ok
    assert b.handle(Action("s/0/undo2", "undo", "a", 30, of="s/0")).reason == "already undone"
    assert b.balances["a"] == 100
    # Compensation before the action (the action's message was slow): a tombstone.
    assert b.handle(Action("t/1/undo", "undo", "b", 10, of="t/1")).reason == "nothing to undo"
    assert not b.handle(Action("t/1", "credit", "b", 10)).ok
    assert b.balances["b"] == 100


def test_a_compensating_debit_must_succeed_even_if_it_overdraws() -> None:
    b = bank()
    b.handle(Action("s/1", "credit", "b", 50))
    b.handle(Action("t/0", "debit", "b", 150))  # the credited money is spent meanwhile
    assert b.handle(Action("s/1/undo", "undo", "b", 50, of="s/1")).ok
    assert b.balances["b"] == -50 and b.overdrawn == 1


actions = st.lists(
    st.tuples(
        st.sampled_from(["k1", "k2", "k3", "k4"]),
        st.sampled_from(["debit", "credit", "undo"]),
        st.sampled_from(["a", "b", "z"]),
        st.integers(1, 80),
        st.booleans(),
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(actions)
def test_replaying_the_synced_ledger_rebuilds_the_same_state(script: list) -> None:  # type: ignore[type-arg]
    disk = Disk()
    b = bank(disk)
    for key, kind, account, amount, sync in script:
        action = Action(f"{key}/undo" if kind == "undo" else key, kind, account, amount, of=key)
        b.handle(action)
        b.write()
        if sync:
            disk.fsync()
    disk.fsync()
    again = bank(disk)
    assert again.balances == b.balances
    assert again.answers == b.answers
    assert sum(again.balances.values()) >= 0 or again.overdrawn
