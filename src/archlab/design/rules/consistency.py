"""Review rules about consistency and transactions (codex 2.1, 5.1, 5.4, 6.1).

Money kept under eventual consistency (2.1, 5.1), two-phase commit across services when
the availability target is high (6.1), and operational transformation chosen for an editor
that must work offline (5.4).
"""

from __future__ import annotations

from collections.abc import Iterator

from archlab.design import units
from archlab.design.estimate import Estimate
from archlab.design.model import Design
from archlab.design.rules.base import Hit, rule

HIGH_AVAILABILITY = 0.9999
WEAK_FOR_MONEY = frozenset({"eventual", "causal"})


@rule(
    id="consistency.eventual_money",
    title="Eventual consistency for money movement",
    section="2.1, 5.1",
    severity="error",
    why="""Clarifying the consistency a system needs is part of its requirements (2.1): a
    payment gateway needs strict serializability, a social feed can tolerate eventual
    consistency. Under eventual (or merely causal) consistency two replicas can each accept a
    debit of the same balance before they converge, so money is spent twice or a balance
    goes negative, and no later reconciliation takes back a payout already made. Strict
    serializability (5.1) makes transactions take effect in one order that matches real
    time.""",
    alternative="""Keep balances and the ledger in a store with serializable, preferably
    strictly serializable, transactions (a single-leader relational database, or a
    Spanner-style system across regions); reserve eventual consistency for derived views
    such as statements and analytics.""",
    measured_by=("sim.serializable_not_linearizable", "sim.linearizable_not_serializable"),
)
def eventual_money(design: Design, est: Estimate) -> Iterator[Hit]:
    for db in design.databases:
        if db.holds_money and db.consistency in WEAK_FOR_MONEY:
            yield Hit(db.path, f"{db.name}: holds_money: true with consistency: {db.consistency}")


@rule(
    id="transactions.2pc_high_availability",
    title="Two-phase commit across services under a high availability target",
    section="6.1",
    severity="error",
    why="""Two-phase commit gives atomic, strongly consistent commits across participants,
    but it blocks: a participant that voted yes must hold its locks until it learns the
    coordinator's decision, so a coordinator failure can stall every participant
    indefinitely. A transaction needs the coordinator and all participants up at once, so
    it is less available than any one of them.""",
    alternative="""A saga: a sequence of local transactions, one per service, each with a
    compensating transaction that undoes it if a later step fails, run by an orchestrator
    or by events. It favours availability over isolation, so design for the intermediate
    states being visible (pending states, idempotent steps).""",
    measured_by=("txn.twopc_blocking", "txn.partition_availability"),
)
def two_phase_commit_high_availability(design: Design, est: Estimate) -> Iterator[Hit]:
    target = design.requirements.availability
    if target < HIGH_AVAILABILITY - 1e-12:
        return
    for txn in design.transactions:
        parties = len(set(txn.services))
        if txn.protocol != "2pc" or parties < 2:
            continue
        together = target ** (parties + 1)
        yield Hit(
            txn.path,
            f"{txn.name}: 2PC across {parties} services ({', '.join(txn.services)}) with an "
            f"availability target of {units.format_fraction(target)}; with the coordinator "
            f"and each participant at that target, all are up together at most "
            f"{units.format_fraction(round(together, 6))} of the time",
        )


@rule(
    id="collaboration.ot_offline_first",
    title="Operational transformation for an offline-first editor",
    section="5.4",
    severity="error",
    why="""Operational transformation needs a central server to put concurrent operations in
    one order and transform each against the others. A client editing offline for hours
    builds a long branch that must be transformed against everything that happened
    meanwhile, and without the server no peer can merge with another. CRDTs let replicas
    accept edits independently and merge them deterministically in any order, which is what
    offline editing and peer-to-peer sync need; their cost is memory, such as tombstones for
    deleted items.""",
    alternative="""A sequence CRDT (RGA-style, as in Yjs or Automerge) with tombstone garbage
    collection; keep OT only for always-online editing through a central server.""",
    measured_by=("collab.offline_convergence",),
)
def ot_offline_first(design: Design, est: Estimate) -> Iterator[Hit]:
    collab = design.collaboration
    if collab.algorithm == "ot" and collab.offline_first:
        yield Hit(collab.path, "algorithm: ot with offline_first: true")
