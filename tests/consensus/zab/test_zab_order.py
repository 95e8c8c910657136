"""The primary-order checker: a correct record passes; each property, broken, is reported."""

from __future__ import annotations

from archlab.consensus.zab import Zxid
from archlab.consensus.zab.order import OrderChecker


def z(epoch: int, counter: int) -> Zxid:
    return Zxid(epoch, counter)


def correct() -> OrderChecker:
    c = OrderChecker()
    c.broadcast("a", z(1, 1))
    c.broadcast("a", z(1, 2))
    for node in ("a", "b"):
        c.deliver(node, 1, z(1, 1))
        c.deliver(node, 2, z(1, 2))
    c.broadcast("b", z(2, 1))
    c.deliver("b", 3, z(2, 1))
    c.deliver("c", 1, z(1, 1))
    return c


def kinds(c: OrderChecker) -> set[str]:
    return {v.property for v in c.violations()}


def test_a_correct_record_has_no_violation() -> None:
    c = correct()
    c.restarted("a", 1)
    c.deliver("a", 2, z(1, 2))  # re-delivering after a restart is fine
    c.deliver("a", 3, z(2, 1))
    assert c.violations() == []


def test_different_transactions_at_one_position_break_agreement() -> None:
    c = correct()
    c.deliver("c", 2, z(2, 1))
    assert "agreement" in kinds(c)


def test_a_replica_changing_its_mind_breaks_agreement() -> None:
    c = correct()
    c.restarted("b", 0)
    c.deliver("b", 1, z(1, 2))
    assert "agreement" in kinds(c)


def test_a_gap_in_a_primarys_proposals_breaks_local_primary_order() -> None:
    c = OrderChecker()
    c.deliver("a", 1, z(1, 1))
    c.deliver("a", 2, z(1, 3))
    assert kinds(c) == {"local primary order"}


def test_an_older_primarys_transaction_after_a_newer_one_breaks_global_primary_order() -> None:
    c = OrderChecker()
    c.deliver("a", 1, z(2, 1))
    c.deliver("a", 2, z(1, 1))
    assert "global primary order" in kinds(c)


def test_a_primary_broadcasting_before_delivering_earlier_epochs_breaks_primary_integrity() -> None:
    c = OrderChecker()
    c.broadcast("a", z(1, 1))
    c.deliver("a", 1, z(1, 1))
    c.broadcast("b", z(2, 1))  # b never delivered <1,1>, which a delivered
    c.deliver("b", 1, z(2, 1))
    assert "primary integrity" in kinds(c)


def test_an_installed_snapshot_counts_as_delivering_what_it_covers() -> None:
    c = OrderChecker()
    for p, counter in enumerate((1, 2, 3), 1):
        c.deliver("a", p, z(1, counter))
    c.installed("b", ((1, 3),))
    c.broadcast("b", z(2, 1))
    c.deliver("b", 4, z(2, 1))
    assert c.violations() == []
    c.installed("c", ((1, 2), (3, 1)))
    assert "agreement" in kinds(c)
