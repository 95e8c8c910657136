"""The lock table: all-or-wait per transaction, first come first served, no starvation."""

from __future__ import annotations

from hypothesis import given, strategies as st

from archlab.txn.twopc.locks import LockTable


def test_a_transaction_gets_all_its_keys_or_waits_holding_none() -> None:
    locks = LockTable()
    assert locks.request(1, ["x"])
    assert not locks.request(2, ["x", "y"])
    assert locks.blocking("y") is None  # 2 holds nothing while it waits
    assert locks.release(1) == [2]
    assert locks.holds(2) and locks.blocking("y") == 2


def test_waiters_are_granted_in_arrival_order() -> None:
    locks = LockTable()
    locks.request(1, ["x"])
    assert not locks.request(2, ["x"])
    assert not locks.request(3, ["x", "y"])
    # 4 only wants y, which is free, but 3 (earlier) wants it too: 4 waits its turn.
    assert not locks.request(4, ["y"])
    assert locks.release(1) == [2]
    assert locks.release(2) == [3]
    assert locks.release(3) == [4]


def test_a_withdrawn_waiter_lets_the_ones_behind_it_through() -> None:
    locks = LockTable()
    locks.request(1, ["x"])
    locks.request(2, ["x", "y"])
    assert not locks.request(3, ["y"])
    assert locks.withdraw(2) == [3]


@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.sets(st.sampled_from("abcd"), min_size=1)), max_size=25
    )
)
def test_no_key_ever_has_two_holders(requests: list[tuple[int, set[str]]]) -> None:
    locks = LockTable()
    for txn, keys in requests:
        if locks.holds(txn):
            locks.release(txn)
        else:
            locks.request(txn, keys)
        holders = [t for t, held in locks.held.items() for _ in held]
        keys_held = [k for held in locks.held.values() for k in held]
        assert len(keys_held) == len(set(keys_held)), holders
        assert all(locks.holder[k] == t for t, held in locks.held.items() for k in held)
