"""Dependencies of an rw-register history (codex 5.1, Elle's second workload).

Each key holds one value; transactions write unique values (``["w", k, v]``) and read them
(``["r", k, v]``). A read names the version it saw, so wr edges are exact, but unlike a list a
register does not reveal the order of its versions. What can be inferred is used:

- the initial version (``null``) precedes every written one;
- writes follow reads: a committed transaction that read version v1 of a key and then wrote
  v2 installed v2 after v1 (under every model checked here, versions are ordered by commit
  and a read sees a committed version);
- a transaction that wrote a key twice overwrote its own first value, which nobody else
  should see (G1b).

From that partial order: ww from the writer of v1 to the writer of each version directly after
it; rw from each reader of v1 to those writers; wr from a version's writer to its readers.
Cycles that need the order of two blind writes stay invisible, as in Elle without extra
assumptions about the database.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from archlab.check.anomalies import Anomaly, key_name, show, txn_name, txn_where
from archlab.check.graph import DependencyGraph
from archlab.check.transactions import Txn
from archlab.errors import InputFormatError

#: The version every key holds before the history: a read of ``null``.
INITIAL: Any = None


def analyse(txns: Sequence[Txn], graph: DependencyGraph, source: str) -> list[Anomaly]:  # noqa: PLR0912 - one branch per dependency kind (ww, wr, rw) and read shape, as Adya and Elle list them
    """Add ww, wr and rw edges to ``graph``; return the anomalies single reads prove."""
    writer: dict[tuple[Hashable, Any], Txn] = {}
    final: dict[tuple[int, Hashable], Any] = {}
    for txn in txns:
        for m in txn.mops:
            if m.f != "w":
                continue
            other = writer.get((m.key, m.value))
            if other is not None:
                raise InputFormatError(
                    source,
                    f"rw-register needs unique values per key: {show(m.value)} is written to "
                    f"{key_name(m.key)} by {txn_where(other.op)} and {txn_where(txn.op)}",
                    txn.op.invoke.line or None,
                )
            writer[(m.key, m.value)] = txn
            final[(txn.op.index, m.key)] = m.value

    anomalies: list[Anomaly] = []
    external: list[tuple[Txn, Hashable, Any]] = []
    after: dict[Hashable, dict[Any, set[Any]]] = {}  # key -> version -> versions directly after
    has_predecessor: set[tuple[Hashable, Any]] = set()
    for txn in txns:
        if not txn.committed:
            continue
        read: dict[Hashable, list[Any]] = {}
        written: set[Hashable] = set()
        for m in txn.mops:
            if m.f == "w":
                written.add(m.key)
            elif m.key not in written:  # a read of its own write is checked as internal
                read.setdefault(m.key, []).append(m.value)
                external.append((txn, m.key, m.value))
                anomalies += _read_anomalies(txn, m.key, m.value, writer, final)
        for key, versions in read.items():
            if key not in written:
                continue
            mine = final[(txn.op.index, key)]
            for version in versions:
                if version is not INITIAL:
                    after.setdefault(key, {}).setdefault(version, set()).add(mine)
                    has_predecessor.add((key, mine))

    for key, edges in after.items():
        for earlier, laters in edges.items():
            a = writer.get((key, earlier))
            for later in laters:
                b = writer[(key, later)]
                if a is not None:
                    graph.add(
                        a.op,
                        b.op,
                        "ww",
                        f"{txn_name(b.op)} read {key_name(key)} = {show(earlier)}, "
                        f"{txn_name(a.op)}'s write, and then wrote {show(later)}",
                    )
    first_versions: dict[Hashable, list[Any]] = {}
    for (_, key), value in final.items():
        if (key, value) not in has_predecessor:
            first_versions.setdefault(key, []).append(value)
    for txn, key, version in external:
        if version is not INITIAL:
            source_txn = writer.get((key, version))
            if source_txn is not None:
                graph.add(
                    source_txn.op,
                    txn.op,
                    "wr",
                    f"{txn_name(txn.op)} read {key_name(key)} = {show(version)}, which "
                    f"{txn_name(source_txn.op)} wrote",
                )
            overwritten_by = sorted(after.get(key, {}).get(version, ()), key=repr)
            what = f"{show(version)}"
        else:
            overwritten_by = first_versions.get(key, [])
            what = "null, the initial version,"
        for later in overwritten_by:
            overwriter = writer[(key, later)]
            graph.add(
                txn.op,
                overwriter.op,
                "rw",
                f"{txn_name(txn.op)} read {key_name(key)} = {what} and {txn_name(overwriter.op)} "
                f"wrote the later version {show(later)}",
            )
    return anomalies


def _read_anomalies(
    txn: Txn,
    key: Hashable,
    version: Any,
    writer: dict[tuple[Hashable, Any], Txn],
    final: dict[tuple[int, Hashable], Any],
) -> list[Anomaly]:
    if version is INITIAL:
        return []
    reader = txn_where(txn.op)
    source = writer.get((key, version))
    if source is None:
        return [
            Anomaly(
                "garbage-read",
                f"{reader} read {key_name(key)} = {show(version)}, which no transaction wrote",
                (txn.op,),
                key=key,
            )
        ]
    if source is txn:
        return [
            Anomaly(
                "internal",
                f"{reader} read {key_name(key)} = {show(version)}, "
                f"which it writes itself only later",
                (txn.op,),
                key=key,
            )
        ]
    if source.status == "fail":
        return [
            Anomaly(
                "G1a",
                f"{reader} read {key_name(key)} = {show(version)}, "
                f"written by {txn_where(source.op)}, which aborted",
                (txn.op, source.op),
                key=key,
            )
        ]
    if source is not txn and final[(source.op.index, key)] != version:
        return [
            Anomaly(
                "G1b",
                f"{reader} read {key_name(key)} = {show(version)}, an intermediate value of "
                f"{txn_where(source.op)}, which then wrote "
                f"{show(final[(source.op.index, key)])}",
                (txn.op, source.op),
                key=key,
            )
        ]
    return []
