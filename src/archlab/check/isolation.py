"""Which isolation level does a transactional history satisfy? Elle's method (codex 5.1).

:func:`check_isolation` reads a list-append or rw-register history, infers what it can of
each key's version order from the values read (:mod:`~archlab.check.listappend`,
:mod:`~archlab.check.rwregister`), builds the dependency graph of the transactions that
committed or may have (ww, wr, rw edges; plus real-time and process order for strict
serializability), and searches it for cycles (:mod:`~archlab.check.cycles`); lost updates
and internal inconsistencies are read off the transactions directly
(:mod:`~archlab.check.lostupdate`, :mod:`~archlab.check.transactions`). Every anomaly
found comes with its evidence: the cycle and why each edge exists, or the read that proves it.
The history is valid for a consistency model when none of the anomalies found is one the
model forbids (:data:`~archlab.check.anomalies.FORBIDDEN`).

The check is sound (an anomaly reported is in the history) and, for what the workload makes
visible, complete; an rw-register history hides the order of blind writes, so some cycles
stay invisible there.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from archlab.check import listappend, rwregister
from archlab.check.anomalies import CONSISTENCY_MODELS, FORBIDDEN, Anomaly, Consistency
from archlab.check.cycles import find_cycles
from archlab.check.graph import DependencyGraph, add_order_edges
from archlab.check.history import Event, Operation
from archlab.check.linearizability import operations
from archlab.check.lostupdate import lost_updates
from archlab.check.transactions import WORKLOADS, Workload, internal_anomalies, transactions
from archlab.errors import UnknownNameError

__all__ = ["Anomaly", "IsolationResult", "check_isolation"]


@dataclass
class IsolationResult:
    """The verdict for one consistency model, and every anomaly found on the way."""

    valid: bool | Literal["unknown"]
    workload: Workload
    consistency: Consistency
    anomalies: list[Anomaly]
    transactions: int
    committed: int
    edges: dict[str, int]
    elapsed_s: float
    reason: str = ""
    txns: list[Operation] = field(default_factory=list, repr=False)

    @property
    def anomaly_kinds(self) -> set[str]:
        return {a.kind for a in self.anomalies}

    @property
    def forbidden(self) -> list[Anomaly]:
        """The anomalies the chosen consistency model rules out."""
        banned = FORBIDDEN[self.consistency]
        return [a for a in self.anomalies if a.kind in banned]

    @property
    def ruled_out(self) -> list[Consistency]:
        """Every consistency model (of those checked) that the anomalies found rule out."""
        kinds = self.anomaly_kinds
        return [m for m in CONSISTENCY_MODELS if kinds & FORBIDDEN[m]]

    @property
    def highlight(self) -> set[int]:
        """Indexes of the transactions in forbidden anomalies (for the timeline)."""
        return {op.index for a in self.forbidden for op in a.txns}

    def to_dict(self) -> dict[str, Any]:
        banned = FORBIDDEN[self.consistency]
        return {
            "valid": self.valid,
            "workload": self.workload,
            "consistency": self.consistency,
            "anomaly_kinds": sorted(self.anomaly_kinds),
            "not": self.ruled_out,
            "anomalies": [{**a.to_dict(), "forbidden": a.kind in banned} for a in self.anomalies],
            "transactions": self.transactions,
            "committed": self.committed,
            "edges": self.edges,
            "elapsed_s": round(self.elapsed_s, 6),
            "reason": self.reason,
        }


def check_isolation(
    history: Sequence[Event] | Sequence[Operation],
    *,
    workload: Literal["list-append", "rw-register"],
    consistency: Literal[
        "read-committed", "snapshot-isolation", "serializable", "strict-serializable"
    ],
    source: str = "<history>",
) -> IsolationResult:
    """Check a transactional history against ``consistency``.

    ``valid`` is False when an anomaly the model forbids was found, ``"unknown"`` when no
    transaction committed (there is nothing to judge), True otherwise.
    """
    started = time.perf_counter()
    if workload not in WORKLOADS:
        raise UnknownNameError("workload", workload, list(WORKLOADS))
    if consistency not in get_args(Consistency):
        raise UnknownNameError("consistency model", consistency, list(CONSISTENCY_MODELS))
    ops = operations(history, source)
    txns = transactions(ops, workload, source)
    graph = DependencyGraph(t.op for t in txns if t.status != "fail")
    analyse = listappend.analyse if workload == "list-append" else rwregister.analyse
    anomalies = internal_anomalies(txns, workload)
    anomalies += analyse(txns, graph, source)
    anomalies += lost_updates(txns, workload)
    strict = consistency == "strict-serializable"
    if strict:
        add_order_edges(graph, ops)
    anomalies += find_cycles(graph, realtime=strict)
    edge_types = ("ww", "wr", "rw", "process", "realtime") if strict else ("ww", "wr", "rw")
    committed = sum(1 for t in txns if t.committed)
    banned = FORBIDDEN[consistency]
    valid: bool | Literal["unknown"]
    reason = ""
    if any(a.kind in banned for a in anomalies):
        valid = False
        kinds = sorted({a.kind for a in anomalies if a.kind in banned})
        reason = f"{', '.join(kinds)} found, which {consistency} forbids"
    elif committed == 0:
        valid = "unknown"
        reason = "no transaction committed: there is nothing to judge"
    else:
        valid = True
    return IsolationResult(
        valid=valid,
        workload=workload,
        consistency=consistency,
        anomalies=anomalies,
        transactions=len(txns),
        committed=committed,
        edges={t: graph.count(t) for t in edge_types},  # type: ignore[arg-type]
        elapsed_s=time.perf_counter() - started,
        reason=reason,
        txns=ops,
    )
