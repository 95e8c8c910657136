"""Dependencies of a list-append history (codex 5.1, Elle's main workload).

Each key holds a list; transactions append unique values and read whole lists. That makes
the version order of a key readable from a single read: the longest list read is the order
of every append it holds, and every other read must be a prefix of it. From that order:

- ww: the writer of element i → the writer of element i+1;
- wr: the writer of the last element a transaction read → the reader;
- rw: a reader of the first i elements → the writer of element i+1, who overwrote that state.

An append no read saw still has a place: lists only grow, so it comes after every element
read (ww from the last one's writer, rw from each reader of the whole list).

Reads also prove anomalies on their own: an element appended by an aborted transaction
(G1a), a list ending at an element its writer followed with another append to the same key
(G1b, an intermediate read), elements nobody appended (garbage), elements twice
(duplicates), and two reads that are not prefixes of one another (incompatible order).

A read that follows the transaction's own appends ends with them (or is an internal anomaly,
see :mod:`~archlab.check.transactions`). The whole read, own appends included, is evidence of
the version order: ``[1, 2, 4]`` read after appending 4 proves that 4 follows 2, and dropping
it would lose a ww edge and put an rw edge in its place (a G1c would then pass for a G-single
or a G2). What comes before the own appends is what the transaction saw of the committed
list: that part gives its wr and rw edges.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from typing import Any

from archlab.check.anomalies import Anomaly, key_name, show, txn_name, txn_where
from archlab.check.graph import DependencyGraph
from archlab.check.transactions import Txn
from archlab.errors import InputFormatError


def brief(values: Sequence[Any]) -> str:
    """A list as shown in explanations: long ones keep their end."""
    if len(values) <= 6:
        return show(tuple(values))
    return "[…, " + ", ".join(show(v) for v in values[-4:]) + "]"


def analyse(txns: Sequence[Txn], graph: DependencyGraph, source: str) -> list[Anomaly]:  # noqa: PLR0912 - one branch per dependency kind (ww, wr, rw) and read shape, as Adya and Elle list them
    """Add ww, wr and rw edges to ``graph``; return the anomalies single reads prove."""
    writer: dict[tuple[Hashable, Any], Txn] = {}
    appended: dict[tuple[int, Hashable], list[Any]] = {}
    for txn in txns:
        for m in txn.mops:
            if m.f != "append":
                continue
            other = writer.get((m.key, m.value))
            if other is not None:
                raise InputFormatError(
                    source,
                    f"list-append needs unique values per key: {show(m.value)} is appended to "
                    f"{key_name(m.key)} by {txn_where(other.op)} and {txn_where(txn.op)}",
                    txn.op.invoke.line or None,
                )
            writer[(m.key, m.value)] = txn
            appended.setdefault((txn.op.index, m.key), []).append(m.value)

    # Every read of a committed transaction, whole (for the version order), and what it saw
    # of the committed state: the read less the transaction's own appends at its end (a read
    # missing them is an internal anomaly).
    reads: dict[Hashable, list[tuple[Txn, tuple[Any, ...]]]] = {}
    whole: dict[Hashable, list[tuple[Txn, tuple[Any, ...]]]] = {}
    for txn in txns:
        if not txn.committed:
            continue
        own: dict[Hashable, int] = {}
        for m in txn.mops:
            if m.f == "append":
                own[m.key] = own.get(m.key, 0) + 1
                continue
            value = tuple(m.value or ())
            mine = own.get(m.key, 0)
            reads.setdefault(m.key, []).append((txn, value[: len(value) - mine]))
            whole.setdefault(m.key, []).append((txn, value))

    anomalies: list[Anomaly] = []
    orders: dict[Hashable, tuple[Any, ...]] = {}
    incompatible: set[tuple[int, Hashable]] = set()
    for key, key_reads in whole.items():
        longest_txn, longest = max(key_reads, key=lambda r: len(r[1]))
        orders[key] = longest
        clash = [(t, v) for t, v in key_reads if v != longest[: len(v)]]
        if clash:
            t, v = clash[0]
            incompatible |= {(t.op.index, key) for t, _ in clash}
            anomalies.append(
                Anomaly(
                    "incompatible-order",
                    f"{txn_where(t.op)} read {key_name(key)} = {brief(v)} and "
                    f"{txn_where(longest_txn.op)} read {brief(longest)}: neither is a prefix "
                    f"of the other, so no single order of appends explains both "
                    f"({len(clash)} such read(s) of this key)",
                    (t.op, longest_txn.op),
                    key=key,
                )
            )
        for t, v in reads[key]:
            anomalies += _read_anomalies(t, key, v, writer, appended)

    anomalies += _out_of_order_appends(orders, appended, writer)
    for key, order in orders.items():
        for earlier, later in itertools.pairwise(order):
            a, b = writer.get((key, earlier)), writer.get((key, later))
            if a is not None and b is not None:
                graph.add(
                    a.op,
                    b.op,
                    "ww",
                    f"{txn_name(b.op)} appended {show(later)} to {key_name(key)} right after "
                    f"{txn_name(a.op)}'s {show(earlier)}",
                )
    for key, key_reads in reads.items():
        order = orders[key]
        for txn, value in key_reads:
            if (txn.op.index, key) not in incompatible:
                _read_edges(graph, txn, key, value, order, writer)
        _unread_appends(graph, key, order, key_reads, writer)
    return anomalies


def _read_edges(
    graph: DependencyGraph,
    txn: Txn,
    key: Hashable,
    value: tuple[Any, ...],
    order: tuple[Any, ...],
    writer: dict[tuple[Hashable, Any], Txn],
) -> None:
    """wr from the writer of the last element seen; rw to the writer of the next one."""
    if value:
        source_txn = writer.get((key, value[-1]))
        if source_txn is not None:
            graph.add(
                source_txn.op,
                txn.op,
                "wr",
                f"{txn_name(txn.op)} read {key_name(key)} = {brief(value)}, whose last element "
                f"{txn_name(source_txn.op)} appended",
            )
    if len(value) < len(order):
        following = order[len(value)]
        next_txn = writer.get((key, following))
        if next_txn is not None:
            graph.add(
                txn.op,
                next_txn.op,
                "rw",
                f"{txn_name(txn.op)} read {key_name(key)} = {brief(value)} and "
                f"{txn_name(next_txn.op)} appended the next element, {show(following)}",
            )


def _out_of_order_appends(
    orders: dict[Hashable, tuple[Any, ...]],
    appended: dict[tuple[int, Hashable], list[Any]],
    writer: dict[tuple[Hashable, Any], Txn],
) -> list[Anomaly]:
    """A transaction's appends to a key must be read in the order it made them, and none of
    them without those it made before."""
    found = []
    for (_, key), values in appended.items():
        order = orders.get(key)
        if not order:
            continue
        where = {v: i for i, v in enumerate(order)}
        seen = [v for v in values if v in where]
        if not seen:
            continue
        expected = values[: len(seen)]
        if seen != expected or [where[v] for v in seen] != sorted(where[v] for v in seen):
            txn = writer[(key, values[0])]
            found.append(
                Anomaly(
                    "incompatible-order",
                    f"{txn_where(txn.op)} appended {show(tuple(values))} to {key_name(key)} "
                    f"in that order, but the longest read of it is {brief(order)}",
                    (txn.op,),
                    key=key,
                )
            )
    return found


def _unread_appends(
    graph: DependencyGraph,
    key: Hashable,
    order: tuple[Any, ...],
    key_reads: Sequence[tuple[Txn, tuple[Any, ...]]],
    writer: dict[tuple[Hashable, Any], Txn],
) -> None:
    """Appends no read saw come after every element read (lists only grow): ww from the
    writer of the last element read, rw from each transaction that read the whole list."""
    read = set(order)
    last = writer.get((key, order[-1])) if order else None
    full = [txn for txn, value in key_reads if len(value) == len(order)]
    for (k, value), txn in writer.items():
        if k != key or value in read or txn.status == "fail":
            continue
        if last is not None:
            graph.add(
                last.op,
                txn.op,
                "ww",
                f"{txn_name(txn.op)} appended {show(value)} to {key_name(key)}, which no read saw, "
                f"so after {show(order[-1])}, the last element read, which "
                f"{txn_name(last.op)} appended",
            )
        for reader in full:
            graph.add(
                reader.op,
                txn.op,
                "rw",
                f"{txn_name(reader.op)} read {key_name(key)} = {brief(order)}, without the "
                f"{show(value)} that {txn_name(txn.op)} appended",
            )


def _read_anomalies(
    txn: Txn,
    key: Hashable,
    value: tuple[Any, ...],
    writer: dict[tuple[Hashable, Any], Txn],
    appended: dict[tuple[int, Hashable], list[Any]],
) -> list[Anomaly]:
    found = []
    reader = txn_where(txn.op)
    if len(set(value)) != len(value):
        twice = sorted({v for v in value if value.count(v) > 1}, key=repr)
        found.append(
            Anomaly(
                "duplicate-elements",
                f"{reader} read {key_name(key)} = {brief(value)}, "
                f"holding {show(tuple(twice))} twice",
                (txn.op,),
                key=key,
            )
        )
    for element in value:
        source = writer.get((key, element))
        if source is None:
            found.append(
                Anomaly(
                    "garbage-read",
                    f"{reader} read {key_name(key)} with element {show(element)}, which no "
                    f"transaction appended",
                    (txn.op,),
                    key=key,
                )
            )
        elif source is txn:
            found.append(
                Anomaly(
                    "internal",
                    f"{reader} read {key_name(key)} = {brief(value)}, including {show(element)}, "
                    f"which it appends itself only later",
                    (txn.op,),
                    key=key,
                )
            )
        elif source.status == "fail":
            found.append(
                Anomaly(
                    "G1a",
                    f"{reader} read {key_name(key)} = {brief(value)}, including {show(element)}, "
                    f"appended by {txn_where(source.op)}, which aborted",
                    (txn.op, source.op),
                    key=key,
                )
            )
    if value:
        last = value[-1]
        source = writer.get((key, last))
        if source is not None and source is not txn:
            theirs = appended[(source.op.index, key)]
            if theirs[-1] != last:
                found.append(
                    Anomaly(
                        "G1b",
                        f"{reader} read {key_name(key)} = {brief(value)}, ending at "
                        f"{show(last)}, an intermediate state of {txn_where(source.op)}, "
                        f"which went on to append {show(tuple(theirs[theirs.index(last) + 1 :]))}",
                        (txn.op, source.op),
                        key=key,
                    )
                )
    return found
