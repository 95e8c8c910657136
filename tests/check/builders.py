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


def inject(events: Sequence[Event], anomaly: str, rng: random.Random) -> list[Event] | None:
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
