"""Isolation anomalies and the consistency models that forbid them (codex 5.1, after Adya
and Elle).

Adya's phenomena are cycles in the dependency graph of committed transactions, whose edges
are *ww* (T2 overwrote T1's version), *wr* (T2 read T1's version) and *rw* (T1 read a version
that T2 overwrote, an anti-dependency):

- **G0** write cycle: ww edges only.
- **G1c** circular information flow: ww and wr edges, at least one wr.
- **G-single** read skew: exactly one rw edge.
- **G-nonadjacent**: two or more rw edges, no two of them next to each other going round the
  cycle (the long fork is the classic one). Snapshot isolation forbids it (Cerone and
  Gotsman's characterisation: every cycle of an SI history has two adjacent rw edges).
- **G2** anti-dependency cycle: two or more rw edges, some adjacent (write skew is the
  classic one); only serializability forbids it.

A **lost update** is read off the history directly: two committed transactions read the same
version of a key and both wrote that key. Snapshot isolation forbids it (first committer
wins), read committed allows it, and it is reported even where the order of the two writes is
unknown (then no cycle shows it: the two rw edges form a G2).

**G1a** (aborted read: a committed transaction saw a write of one that aborted) and **G1b**
(intermediate read: it saw a version its writer later overwrote within the same
transaction) are single reads, not cycles. A strict-serializable history must also order
transactions consistently with real time, so its graph adds real-time (and per-process)
edges, and a cycle that needs one is reported as ``G0-realtime``, ``G-single-realtime`` ...

Some findings show a history no database could produce under any of these models: a
transaction that does not see its own writes (``internal``), two reads that disagree on the
order of a list (``incompatible-order``), a list holding an element twice
(``duplicate-elements``), a read of a value nobody wrote (``garbage-read``).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Literal

from archlab.check.history import Operation

Consistency = Literal["read-committed", "snapshot-isolation", "serializable", "strict-serializable"]
CONSISTENCY_MODELS: tuple[Consistency, ...] = (
    "read-committed",
    "snapshot-isolation",
    "serializable",
    "strict-serializable",
)

#: Impossible under every model here: the history itself is broken.
BROKEN = frozenset({"internal", "incompatible-order", "duplicate-elements", "garbage-read"})
CYCLE_KINDS = ("G0", "G1c", "G-single", "G-nonadjacent", "G2")
REALTIME_KINDS = tuple(f"{kind}-realtime" for kind in CYCLE_KINDS)

#: What each consistency model forbids (each includes the weaker models' prohibitions).
FORBIDDEN: dict[Consistency, frozenset[str]] = {
    "read-committed": BROKEN | {"G0", "G1a", "G1b", "G1c"},
}
FORBIDDEN["snapshot-isolation"] = FORBIDDEN["read-committed"] | {
    "G-single",
    "G-nonadjacent",
    "lost-update",
}
FORBIDDEN["serializable"] = FORBIDDEN["snapshot-isolation"] | {"G2"}
FORBIDDEN["strict-serializable"] = FORBIDDEN["serializable"] | set(REALTIME_KINDS)

EdgeType = Literal["ww", "wr", "rw", "process", "realtime"]
#: When an edge has several types, the one a cycle is described by: least severe first.
EDGE_PREFERENCE: tuple[EdgeType, ...] = ("ww", "wr", "process", "realtime", "rw")


def txn_name(op: Operation) -> str:
    return f"T{op.index}"


def txn_where(op: Operation) -> str:
    line = op.invoke.line
    return f"{txn_name(op)} (process {op.process!r}" + (f", line {line})" if line else ")")


@dataclass(frozen=True)
class Step:
    """One edge of a cycle: ``source`` must precede ``target`` because of ``why``."""

    source: Operation
    target: Operation
    type: EdgeType
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": txn_name(self.source),
            "to": txn_name(self.target),
            "type": self.type,
            "why": self.why,
        }


@dataclass(frozen=True)
class Anomaly:
    """One finding, with the evidence: the cycle for G0..G2, the read for G1a/G1b."""

    kind: str
    explanation: str
    txns: tuple[Operation, ...]
    cycle: tuple[Step, ...] = ()
    key: Hashable | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "explanation": self.explanation,
            "txns": [
                {
                    "name": txn_name(op),
                    "index": op.index,
                    "process": op.process,
                    "status": op.status,
                    "line": op.invoke.line or None,
                }
                for op in self.txns
            ],
        }
        if self.cycle:
            data["cycle"] = [step.to_dict() for step in self.cycle]
        if self.key is not None:
            data["key"] = _jsonable(self.key)
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value if value is None or isinstance(value, str | int | float | bool) else repr(value)


def show(value: Any) -> str:
    """A value as it appears in a history (JSON-ish)."""
    if isinstance(value, tuple | list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def key_name(key: Any) -> str:
    """A key as explanations name it: ``key 'x'``, ``key 3``."""
    return f"key {show(key)}"
