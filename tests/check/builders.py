"""Helpers the checker tests share: terse history builders, a brute-force reference checker,
and anomaly injection into generated histories."""

from __future__ import annotations

import itertools
import random
from collections.abc import Hashable, Sequence
from dataclasses import replace
from typing import Any

from archlab.check import history
from archlab.check.history import Event, Operation
from archlab.check.models import Model


def h(*rows: tuple[Any, ...]) -> list[Event]:
    """A history from rows ``(process, type, f, value[, key])``, in real-time order."""
    events = []
    for line, row in enumerate(rows, 1):
        process, kind, f, value, *rest = row
        key = rest[0] if rest else None
        events.append(Event(process, kind, f, _tuples(value), _tuples(key), None, line))
    return events


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def brute_force(ops: Sequence[Operation], model: Model, initial: Any = None) -> bool:
    """Linearizable? By trying every order and every subset of unknown operations.

    No memoisation, no pruning: the definition, executed. Exponential, so for a handful
    of operations only.
    """
    included = [op for op in ops if model.included(op)]
    for _, part in model.partition(included):
        if not _brute_partition(part, model, model.init(initial)):
            return False
    return True


def _brute_partition(ops: Sequence[Operation], model: Model, start: Hashable) -> bool:
    required = [op for op in ops if op.status != "info"]
    unknown = [op for op in ops if op.status == "info"]
    for size in range(len(unknown) + 1):
        for chosen in itertools.combinations(unknown, size):
            placed = [*required, *chosen]
            for order in itertools.permutations(placed):
                if _respects_real_time(order) and _legal(order, model, start):
                    return True
    return False


def _respects_real_time(order: Sequence[Operation]) -> bool:
    return all(not (b.ret < a.call) for i, a in enumerate(order) for b in order[i + 1 :])


def _legal(order: Sequence[Operation], model: Model, state: Hashable) -> bool:
    for op in order:
        ok, state = model.step(state, op)
        if not ok:
            return False
    return True


def replay(order: Sequence[Operation], model: Model, initial: Any = None) -> bool:
    """Whether ``order`` is a legal sequential run of ``model`` from ``initial``."""
    return _legal(order, model, model.init(initial))


# ---- anomaly injection ------------------------------------------------------------------

ANOMALIES = ("stale-read", "lost-write", "future-read", "failed-cas-took-effect")


def _writer_of(ops: Sequence[Operation]) -> dict[Any, Operation]:
    """Who wrote each value, for histories with distinct written values."""
    writers: dict[Any, Operation] = {}
    for op in ops:
        if op.f == "write":
            writers[op.value] = op
        elif op.f == "cas":
            writers[op.value[1]] = op
    return writers


def _took_effect(op: Operation) -> bool:
    return op.status == "ok"


def _set_completion(events: list[Event], op: Operation, **changes: Any) -> None:
    assert op.completion is not None
    position = op.ret
    events[position] = replace(events[position], **changes)


def with_tail(events: Sequence[Event], key: Hashable | None = None) -> list[Event]:
    """``events`` followed by a sequential valid tail by a fresh process, with values no
    earlier operation uses: write A, read -> A, cas [A, B], read -> B, write C. It gives every
    kind of anomaly a site to be injected into."""
    out = list(events)
    p = "tail"
    a, b, c = "tail-a", "tail-b", "tail-c"
    for kind, f, value in [
        ("invoke", "write", a),
        ("ok", "write", a),
        ("invoke", "read", None),
        ("ok", "read", a),
        ("invoke", "cas", (a, b)),
        ("ok", "cas", (a, b)),
        ("invoke", "read", None),
        ("ok", "read", b),
        ("invoke", "write", c),
        ("ok", "write", c),
    ]:
        out.append(Event(p, kind, f, value, key))  # type: ignore[arg-type]
    return out


def inject(events: Sequence[Event], anomaly: str, rng: random.Random) -> list[Event] | None:  # noqa: PLR0912 - one branch per anomaly class the property test injects
    """``events`` (distinct written values, linearizable) with one certain violation, or None
    when the history has no site for it. Each kind is certainly illegal because every value is
    written by one operation only:

    - stale-read: a read returns v1 although v1's write was followed (in real time) by a
      completed write of v2, which completed before the read began.
    - lost-write: an acknowledged write whose value a later read saw is reported as failed.
    - future-read: a read returns a value whose write began only after the read completed.
    - failed-cas-took-effect: a cas whose new value was read is reported as a failed compare.
    """
    out = list(events)
    ops = history.pair(out)
    by_key: dict[Hashable, list[Operation]] = {}
    for op in ops:
        by_key.setdefault(op.key, []).append(op)
    sites: list[tuple[Operation, Any]] = []
    for part in by_key.values():
        writers = _writer_of(part)
        reads = [op for op in part if op.f == "read" and op.status == "ok"]
        effective = [op for op in part if op.f in ("write", "cas") and _took_effect(op)]
        if anomaly == "stale-read":
            for r in reads:
                for w2 in effective:
                    if w2.ret < r.call:
                        sites += [(r, _written(w1)) for w1 in effective if w1.ret < w2.call]
        elif anomaly == "future-read":
            for r in reads:
                sites += [(r, _written(w)) for w in effective if w.call > r.ret]
        else:
            f = "write" if anomaly == "lost-write" else "cas"
            for r in reads:
                w = writers.get(r.output)
                if w is not None and w.f == f and w.status == "ok":
                    sites.append((w, None))
    if not sites:
        return None
    op, value = rng.choice(sites)
    if anomaly in ("stale-read", "future-read"):
        _set_completion(out, op, value=value)
    else:
        _set_completion(out, op, type="fail")
    return out


def _written(op: Operation) -> Any:
    return op.value if op.f == "write" else op.value[1]


# ---- transactional histories ------------------------------------------------------------


def txn(process: Any, kind: str, *mops: tuple[str, Any, Any]) -> Event:
    """One transaction event: ``txn(0, "ok", ("append", "x", 1), ("r", "y", [1]))``."""
    return Event(process, kind, "txn", _tuples([list(m) for m in mops]))  # type: ignore[arg-type]


def run(
    *txns: tuple[Any, Sequence[tuple[str, Any, Any]], Sequence[tuple[str, Any, Any]] | str],
) -> list[Event]:
    """Sequential transactions ``(process, invoked micro-ops, completed micro-ops or "fail"
    / "info")``, each invoked after the previous one completed."""
    events = []
    for process, invoked, completed in txns:
        events.append(txn(process, "invoke", *invoked))
        if isinstance(completed, str):
            events.append(txn(process, completed, *invoked))
        else:
            events.append(txn(process, "ok", *completed))
    return numbered(events)


def numbered(events: Sequence[Event]) -> list[Event]:
    """``events`` with line numbers 1, 2, ... as if read from a file."""
    return [replace(e, line=i) for i, e in enumerate(events, 1)]


TXN_ANOMALIES = ("aborted-read", "intermediate-read", "fractured-read", "stale-read-realtime")


def txn_tail(events: Sequence[Event]) -> list[Event]:
    """``events`` then, on fresh keys: W appends to both, then two readers see both. It gives
    every injectable transactional anomaly a site."""
    x, y = "tail-x", "tail-y"
    return [
        *events,
        *run(
            ("tail-w", [("append", x, 1), ("append", y, 1)], [("append", x, 1), ("append", y, 1)]),
            ("tail-r1", [("r", x, None), ("r", y, None)], [("r", x, [1]), ("r", y, [1])]),
            ("tail-r2", [("r", x, None), ("r", y, None)], [("r", x, [1]), ("r", y, [1])]),
        ),
    ]


def _external_reads(op: Operation) -> list[tuple[int, Any, tuple[Any, ...]]]:
    """(micro-op position, key, list read) for reads before the txn's own appends to it."""
    out = []
    appended: set[Any] = set()
    for i, (f, key, value) in enumerate(op.output):
        if f == "append":
            appended.add(key)
        elif key not in appended:
            out.append((i, key, tuple(value or ())))
    return out


def _replace_mop(events: list[Event], op: Operation, position: int, new: tuple[Any, ...]) -> None:
    mops = list(op.output)
    mops[position] = new
    events[op.ret] = replace(events[op.ret], value=tuple(mops))


def inject_txn(events: Sequence[Event], anomaly: str, rng: random.Random) -> list[Event] | None:  # noqa: PLR0912 - one branch per anomaly class the property test injects
    """A list-append history from a correct database with one certain anomaly, or None when
    it has no site for it:

    - aborted-read: a transaction whose append another one read is reported as aborted (G1a);
    - intermediate-read: a transaction whose last append to a key someone read gains a later
      append to it, so that read saw an intermediate state (G1b);
    - fractured-read: T saw W's append to x but, now, not W's append to y (G-single);
    - stale-read-realtime: T, invoked after W completed, no longer sees W's append (a cycle
      through real-time order: only strict serializability forbids it).
    """
    out = list(events)
    ops = [op for op in history.pair(out) if op.status == "ok"]
    writer: dict[tuple[Any, Any], Operation] = {}
    for op in ops:
        for f, key, value in op.output:
            if f == "append":
                writer[(key, value)] = op
    readers: dict[tuple[Any, Any], list[Operation]] = {}
    for op in ops:
        for _, key, seen in _external_reads(op):
            for value in seen:
                readers.setdefault((key, value), []).append(op)
    sites: list[Any] = []
    if anomaly == "aborted-read":
        sites = [
            w
            for (key, value), w in writer.items()
            if any(r is not w for r in readers.get((key, value), []))
        ]
        if not sites:
            return None
        w = rng.choice(sites)
        out[w.ret] = replace(out[w.ret], type="fail", value=w.value)
        return out
    if anomaly == "intermediate-read":
        for r in ops:
            for _, key, seen in _external_reads(r):
                if not seen:
                    continue
                w = writer.get((key, seen[-1]))
                if w is None or w is r:
                    continue
                mops = list(w.output)
                mine = [i for i, (f, k, _) in enumerate(mops) if f == "append" and k == key]
                reads_after = any(f == "r" and k == key for f, k, _ in mops[mine[-1] :])
                if mops[mine[-1]][2] == seen[-1] and not reads_after:
                    sites.append((w, mine[-1], key))
        if not sites:
            return None
        w, position, key = rng.choice(sites)
        extra = ("append", key, "injected")
        for where, value in ((w.call, w.value), (w.ret, w.output)):
            mops = list(value)
            mops.insert(position + 1, extra)
            out[where] = replace(out[where], value=tuple(mops))
        return out
    for t in ops:
        for position, key, seen in _external_reads(t):
            for cut, element in enumerate(seen):
                w = writer.get((key, element))
                others = [r for r in readers.get((key, element), []) if r is not t]
                if w is None or w is t or not others:
                    continue
                if anomaly == "stale-read-realtime" and w.ret < t.call:
                    sites.append((t, position, key, cut))
                elif anomaly == "fractured-read":
                    also = [
                        v
                        for f, k, v in w.output
                        if f == "append" and k != key and t in readers.get((k, v), [])
                    ]
                    if also:
                        sites.append((t, position, key, cut))
    if not sites:
        return None
    t, position, key, cut = rng.choice(sites)
    seen = dict((k, v) for _, k, v in _external_reads(t))[key]
    _replace_mop(out, t, position, ("r", key, seen[:cut]))
    return out


def brute_serializable(
    ops: Sequence[Operation], workload: str = "list-append", *, realtime: bool = False
) -> bool:
    """Serializable (strictly, with ``realtime``)? By trying every order of the committed
    transactions with every subset of the unknown ones, executing them one at a time and
    comparing every read. The definition, executed: for a handful of transactions only."""
    committed = [op for op in ops if op.status == "ok"]
    unknown = [op for op in ops if op.status == "info"]
    for size in range(len(unknown) + 1):
        for chosen in itertools.combinations(unknown, size):
            for order in itertools.permutations([*committed, *chosen]):
                if realtime and not _respects_real_time(order):
                    continue
                if _replays(order, workload):
                    return True
    return False


def _replays(order: Sequence[Operation], workload: str) -> bool:
    state: dict[Any, Any] = {}
    for op in order:
        mops = op.output if op.status == "ok" else op.value
        for f, key, value in mops:
            if f == "append":
                state[key] = (*state.get(key, ()), value)
            elif f == "w":
                state[key] = value
            elif op.status == "ok":
                empty: Any = () if workload == "list-append" else None
                seen = tuple(value) if workload == "list-append" and value is not None else value
                if workload == "list-append" and value is None:
                    seen = ()
                if state.get(key, empty) != seen:
                    return False
    return True


# ---- serial histories with one anomaly of a chosen class ------------------------------------

#: The classes :func:`with_anomaly` injects, and the kind the checker must report for each.
INJECTED_CLASSES: dict[str, str] = {
    "lost-update": "lost-update",
    "lost-update-ordered": "lost-update",
    "long-fork": "G-nonadjacent",
    "own-append-g1c": "G1c",
    "internal": "internal",
}
#: Classes with no rw-register form (a register read does not reveal the order of writes).
LIST_APPEND_ONLY = frozenset({"lost-update-ordered", "own-append-g1c"})


def serial_txn_history(
    rng: random.Random, workload: str, txns: int, keys: int, processes: int = 4
) -> tuple[list[Event], dict[Any, Any]]:
    """Transactions run one at a time (each invoked after the previous completed), so valid
    at every level; some abort (``fail``, no effect) or time out (``info``, applied or not).
    Returns the events and the final state of every key written."""
    write_f = "append" if workload == "list-append" else "w"
    state: dict[Any, Any] = {}
    counter = 0
    events: list[Event] = []
    for _ in range(txns):
        plan: list[tuple[str, Any, Any]] = []
        for _ in range(rng.randint(1, 4)):
            key = rng.randrange(keys)
            if rng.random() < 0.5:
                plan.append(("r", key, None))
            else:
                counter += 1
                plan.append((write_f, key, counter))
        status = rng.choice(["ok"] * 8 + ["fail", "info"])
        done = []
        applies = status == "ok" or (status == "info" and rng.random() < 0.5)
        scratch = dict(state)
        for f, key, arg in plan:
            if f == "append":
                scratch[key] = (*scratch.get(key, ()), arg)
            elif f == "w":
                scratch[key] = arg
            else:
                arg = scratch.get(key, () if workload == "list-append" else None)  # noqa: PLW2901
            done.append((f, key, arg))
        if applies:
            state = scratch
        process = rng.randrange(processes)
        events.append(txn(process, "invoke", *plan))
        events.append(txn(process, status, *(done if status == "ok" else plan)))
    return numbered(events), state


def with_anomaly(
    events: Sequence[Event], state: dict[Any, Any], workload: str, anomaly: str, rng: random.Random
) -> list[Event]:
    """``events`` (a serial history ending in ``state``) followed by concurrent transactions
    that make one anomaly of class ``anomaly`` on keys the history used (or fresh ones)."""
    listy = workload == "list-append"
    write_f = "append" if listy else "w"
    empty: Any = () if listy else None
    x, y = rng.sample([*range(4), "fresh-x", "fresh-y"], 2)
    sx, sy = state.get(x, empty), state.get(y, empty)

    def after(seen: Any, *values: Any) -> Any:
        return (*seen, *values) if listy else values[-1]

    a, b = "injected-a", "injected-b"
    gadget: list[tuple[str, list[tuple[str, Any, Any]]]]
    if anomaly in ("lost-update", "lost-update-ordered"):
        gadget = [
            ("g1", [("r", x, sx), (write_f, x, a)]),
            ("g2", [("r", x, sx), (write_f, x, b)]),
        ]
        if anomaly == "lost-update-ordered":
            gadget.append(("g3", [("r", x, after(sx, a, b))]))
    elif anomaly == "long-fork":
        gadget = [
            ("g1", [("r", x, sx), (write_f, x, a)]),
            ("g2", [("r", y, sy), (write_f, y, b)]),
            ("g3", [("r", x, after(sx, a)), ("r", y, sy)]),
            ("g4", [("r", x, sx), ("r", y, after(sy, b))]),
        ]
    elif anomaly == "own-append-g1c":
        gadget = [
            ("g1", [("append", y, a), ("append", x, "injected-c")]),
            ("g2", [("append", x, b), ("r", x, after(sx, b)), ("r", y, after(sy, a))]),
        ]
    elif anomaly == "internal":
        gadget = [("g1", [(write_f, x, a), ("r", x, sx)])]
    else:
        raise ValueError(anomaly)
    tail = [
        txn(p, "invoke", *((f, k, None if f == "r" else v) for f, k, v in mops))
        for p, mops in gadget
    ] + [txn(p, "ok", *mops) for p, mops in gadget]
    return numbered([*events, *tail])
