"""Transactions of a list-append or rw-register history, validated (codex 5.1).

A transaction is an operation with ``"f": "txn"`` whose value is a list of micro-operations
``[f, key, value]``: ``append`` and ``r`` for list-append, ``w`` and ``r`` for rw-register.
The invocation carries ``null`` for each read; an ``ok`` completion carries the same
micro-operations with the values read filled in. A ``fail`` transaction aborted; an ``info``
one may or may not have committed (its reads are unknown).

:func:`transactions` checks every line against this shape and reports the first bad one with
its line number; :func:`internal_anomalies` finds committed transactions that contradict
themselves: a read that does not reflect the transaction's own earlier writes, or (lists
only grow) a list read that lost elements an earlier read of it in the same transaction saw.
(Two reads of a register that differ are not internal: another transaction may have
committed in between, which read committed allows; the dependency graph judges them.)
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from archlab.check.anomalies import Anomaly, key_name, show, txn_where
from archlab.check.history import Operation
from archlab.errors import InputFormatError

Workload = Literal["list-append", "rw-register"]
WORKLOADS: tuple[Workload, ...] = ("list-append", "rw-register")
WRITE_F: dict[Workload, str] = {"list-append": "append", "rw-register": "w"}


@dataclass(frozen=True)
class MicroOp:
    f: str
    key: Hashable
    value: Any


@dataclass(frozen=True)
class Txn:
    """A transaction: its operation, and its micro-operations as completed (or invoked)."""

    op: Operation
    mops: tuple[MicroOp, ...]

    @property
    def status(self) -> str:
        return self.op.status

    @property
    def committed(self) -> bool:
        """Committed for sure (``ok``); ``info`` ones may have been."""
        return self.op.status == "ok"


def transactions(ops: Sequence[Operation], workload: Workload, source: str) -> list[Txn]:
    """Validate and convert each operation; the first malformed one is an InputFormatError."""
    write_f = WRITE_F[workload]
    txns = []
    for op in ops:
        line = op.invoke.line or None
        if op.f != "txn":
            raise InputFormatError(source, f"expected 'f': 'txn' in a {workload} history", line)
        invoked = _mops(op.value, write_f, source, line, "the invocation")
        if op.status == "ok":
            assert op.completion is not None
            done_line = op.completion.line or None
            completed = _mops(op.output, write_f, source, done_line, "the completion")
            if len(completed) != len(invoked) or any(
                a.f != b.f or a.key != b.key or (a.f == write_f and a.value != b.value)
                for a, b in zip(invoked, completed, strict=True)
            ):
                raise InputFormatError(
                    source,
                    "the completion's micro-operations differ from the invocation's "
                    f"(line {line}): only read values may be filled in",
                    done_line,
                )
            for m in completed:
                if (
                    workload == "list-append"
                    and m.f == "r"
                    and m.value is not None
                    and not isinstance(m.value, tuple)
                ):
                    raise InputFormatError(
                        source,
                        f"a list-append read returns a list, got {show(m.value)}",
                        done_line,
                    )
            txns.append(Txn(op, completed))
        else:
            txns.append(Txn(op, invoked))
    return txns


def _mops(
    value: Any, write_f: str, source: str, line: int | None, where: str
) -> tuple[MicroOp, ...]:
    if not isinstance(value, tuple):
        raise InputFormatError(
            source, f"{where}'s value must be a list of micro-operations, got {show(value)}", line
        )
    mops = []
    for item in value:
        if not isinstance(item, tuple) or len(item) != 3:
            raise InputFormatError(
                source, f"a micro-operation is [f, key, value], got {show(item)}", line
            )
        f, key, arg = item
        if f not in (write_f, "r"):
            raise InputFormatError(
                source, f"micro-operation f must be {write_f!r} or 'r', got {show(f)}", line
            )
        if f == write_f and (arg is None or isinstance(arg, tuple)):
            raise InputFormatError(source, f"{f!r} needs a single value, got {show(arg)}", line)
        mops.append(MicroOp(f, key, arg))
    return tuple(mops)


def internal_anomalies(txns: Sequence[Txn], workload: Workload) -> list[Anomaly]:
    """Committed transactions whose reads miss their own earlier writes."""
    found = []
    for txn in txns:
        if not txn.committed:
            continue
        problem = _internal_append(txn) if workload == "list-append" else _internal_register(txn)
        if problem is not None:
            key, explanation = problem
            found.append(
                Anomaly("internal", f"{txn_where(txn.op)} {explanation}", (txn.op,), key=key)
            )
    return found


def _internal_append(txn: Txn) -> tuple[Hashable, str] | None:
    """A read must end with the transaction's own appends so far, and what precedes them
    (the committed list it sees) must extend what an earlier read of the key saw: committed
    lists only grow."""
    own: dict[Hashable, list[Any]] = {}
    seen: dict[Hashable, tuple[Any, ...]] = {}
    for m in txn.mops:
        if m.f == "append":
            own.setdefault(m.key, []).append(m.value)
            continue
        read = tuple(m.value or ())
        mine = own.get(m.key, [])
        if mine and list(read[len(read) - len(mine) :]) != mine:
            return m.key, (
                f"read {key_name(m.key)} = {show(read)}, which does not end with its own "
                f"appends {show(tuple(mine))}"
            )
        committed = read[: len(read) - len(mine)]
        before = seen.get(m.key, ())
        if committed[: len(before)] != before:
            return m.key, (
                f"read {key_name(m.key)} = {show(read)} after reading {show(before)}"
                + (f" and appending {show(tuple(mine))}" if mine else "")
                + f": the committed part, {show(committed)}, does not start with {show(before)} "
                "(lists only grow)"
            )
        seen[m.key] = committed
    return None


def _internal_register(txn: Txn) -> tuple[Hashable, str] | None:
    own: dict[Hashable, Any] = {}
    for m in txn.mops:
        if m.f == "w":
            own[m.key] = m.value
        elif m.key in own and m.value != own[m.key]:
            return m.key, (
                f"read {key_name(m.key)} = {show(m.value)} after writing {show(own[m.key])} itself"
            )
    return None
