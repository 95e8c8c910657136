"""Histories of a correct concurrent register, generated from a seed (codex 5.1 test data).

:func:`register_history` runs a sequential register (or cas-register, or a map of them)
behind a random schedule of concurrent clients: each operation is invoked, takes effect
atomically at some later tick (its linearization point), and completes later still, so the
history is linearizable by construction. Clients also see the indeterminacy of a real
network: a request may time out (``info``) before or after it took effect, and an orphaned
request may still take effect later or never; a read or write may fail cleanly (``fail``,
no effect); a compare-and-set whose compare failed completes as ``fail``, as etcd reports it.

The checkers' property tests, ``archlab bench check`` and the experiments use it; with
``distinct=True`` every written value is unique, which lets tests inject an anomaly that is
certain to be illegal.
"""

from __future__ import annotations

import random
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Literal

from archlab.check.history import Event, Recorder

Kind = Literal["register", "cas-register", "kv"]


@dataclass
class _Pending:
    f: str
    key: Hashable | None
    value: Any
    fate: Literal["ok", "fail", "info"]
    applied: bool = False
    result: Any = None
    compare_failed: bool = False


def register_history(  # noqa: PLR0912, PLR0915 - one branch per fault and operation kind of the generator, a single readable script of the history
    rng: random.Random,
    *,
    kind: Kind = "cas-register",
    processes: int = 5,
    ops: int = 100,
    keys: int = 1,
    values: int = 5,
    distinct: bool = False,
    info_rate: float = 0.1,
    fail_rate: float = 0.02,
    orphan_effect: float = 0.5,
    initial: Any = None,
) -> list[Event]:
    """A linearizable history of ``ops`` operations by ``processes`` concurrent clients.

    ``values``: writes (and cas) draw from ``range(values)``, unless ``distinct``, where
    every written value is new. ``info_rate``: the chance a request times out, before or
    after it took effect (even odds); an orphan then takes effect later with probability
    ``orphan_effect``, or never. ``fail_rate``: the chance a read or write is refused.
    ``keys`` > 1 needs ``kind="kv"``.
    """
    if keys > 1 and kind != "kv":
        raise ValueError("several keys need kind='kv'")
    rec = Recorder()
    store: dict[Hashable | None, Any] = {}
    key_names: list[Hashable | None] = [None] if kind != "kv" else [f"k{i}" for i in range(keys)]
    fs = ["read", "write"] + (["cas"] if kind != "register" else [])
    pending: dict[int, _Pending] = {}
    orphans: list[_Pending] = []
    issued = 0
    fresh = 0
    tick = 0

    def new_value() -> Any:
        nonlocal fresh
        fresh += 1
        return fresh if distinct else rng.randrange(values)

    def apply(op: _Pending) -> None:
        current = store.get(op.key, initial)
        if op.f == "read":
            op.result = current
        elif op.f == "write":
            store[op.key] = op.value
            op.result = op.value
        else:
            expected, new = op.value
            op.compare_failed = current != expected
            if not op.compare_failed:
                store[op.key] = new
            op.result = op.value
        op.applied = True

    while issued < ops or pending:
        tick += 1
        if orphans and rng.random() < 0.2:
            orphan = orphans.pop(rng.randrange(len(orphans)))
            if rng.random() < orphan_effect:
                apply(orphan)
        process = rng.randrange(processes)
        op = pending.get(process)
        if op is None:
            if issued >= ops:
                continue
            issued += 1
            f = rng.choice(fs)
            key = rng.choice(key_names)
            value: Any = None
            if f == "write":
                value = new_value()
            elif f == "cas":
                current = store.get(key, initial)
                expected = current if rng.random() < 0.5 or distinct else rng.randrange(values)
                value = (expected, new_value())
            roll = rng.random()
            fate: Literal["ok", "fail", "info"] = "info" if roll < info_rate else "ok"
            if f != "cas" and info_rate <= roll < info_rate + fail_rate:
                fate = "fail"
            pending[process] = _Pending(f, key, value, fate)
            rec.invoke(process, f, value, key, float(tick))
            continue
        if rng.random() < 0.4:
            continue  # this client's request is still on its way
        if not op.applied:
            if op.fate == "fail":
                del pending[process]  # refused cleanly: no effect
                rec.fail(process, op.f, op.value, op.key, float(tick))
            elif op.fate == "info" and rng.random() < 0.5:
                del pending[process]  # timed out before it took effect: an orphan
                rec.info(process, op.f, op.value, op.key, float(tick))
                orphans.append(op)
            else:
                apply(op)
            continue
        del pending[process]
        if op.fate == "info":  # took effect, but the reply was lost
            rec.info(process, op.f, op.value, op.key, float(tick))
        elif op.f == "cas" and op.compare_failed:
            rec.fail(process, op.f, op.value, op.key, float(tick))
        else:
            rec.ok(process, op.f, op.result, op.key, float(tick))
    return rec.events
