"""Transaction workloads whose histories the isolation checker can judge (codex 4.3, 5.1).

Each builder returns a :class:`Workload`: per-client lists of :class:`Program` s, an optional
setup program run alone first, and the checker's workload kind. Values are chosen so that a
checker can tell versions apart (Elle's requirements): every appended element and every
written register value is unique.

* :func:`list_append`: Elle's list-append. Keys hold tuples; an append is a locking read
  (``SELECT ... FOR UPDATE``) then a write of the extended list, so under read committed the
  append applies to the newest version, as ``UPDATE ... SET v = v || x`` does in PostgreSQL.
  Transactions may read a key twice, which is how a non-repeatable read shows.
* :func:`rw_register`: reads and blind writes of unique values.
* :func:`bank`: transfers between accounts (read both balances, write both new balances) and
  audits that read every account. A balance is stored as ``balance * 10^6 + write id`` so each
  write is unique and the balance can still be read back. Under read committed, two transfers
  that read the same balance overwrite each other (a lost update): money appears or vanishes.
* :func:`doctors`: Cahill's doctors on call. Each shift needs one doctor on call; a doctor goes
  off call only after reading that at least two are on call. Under snapshot isolation two
  doctors can both go off (write skew, G2); serializable must prevent it. On-call is a positive
  value, off-call a negative one, both unique.

:func:`bank_violations` and :func:`doctors_violations` measure the application invariants in a
recorded history (audits that saw money created or destroyed, shifts left with nobody on
call), which complements the checker's verdict with what a user would notice.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Literal

from archlab.check.history import Event
from archlab.storage.mvcc.engine import Isolation
from archlab.storage.mvcc.scheduler import Body, Get, Program, Put, Rollback

WorkloadKind = Literal["list-append", "rw-register"]

#: A bank balance is stored as balance * BALANCE_SCALE + write id (unique per write).
BALANCE_SCALE = 1_000_000


@dataclass
class Workload:
    name: str
    kind: WorkloadKind
    clients: list[list[Program]]
    setup: Program | None = None
    #: Whether the setup transaction belongs in the history (its writes are read later).
    record_setup: bool = False
    params: dict[str, Any] = field(default_factory=dict)


def _keys(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


# -- list-append ---------------------------------------------------------------------------------


def list_append(
    rng: random.Random,
    isolation: Isolation,
    *,
    clients: int = 4,
    txns_per_client: int = 10,
    keys: int = 5,
    max_ops: int = 4,
    read_fraction: float = 0.5,
) -> Workload:
    names = _keys("k", keys)
    element = count(1)

    def setup_body() -> Body:
        for key in names:
            yield Put(key, ())
        return []

    def program(ops: list[tuple[str, str, int | None]]) -> Program:
        invoke = [[f, k, v] for f, k, v in ops]

        def body() -> Body:
            done: list[list[Any]] = []
            for f, key, value in ops:
                if f == "r":
                    seen = yield Get(key)
                    done.append(["r", key, list(seen or ())])
                else:
                    current = yield Get(key, for_update=True)
                    yield Put(key, (*(current or ()), value))
                    done.append(["append", key, value])
            return done

        return Program(isolation, invoke, body)

    plans = []
    for _ in range(clients):
        programs = []
        for _ in range(txns_per_client):
            ops: list[tuple[str, str, int | None]] = []
            for _ in range(rng.randint(1, max_ops)):
                key = rng.choice(names)
                if rng.random() < read_fraction:
                    ops.append(("r", key, None))
                else:
                    ops.append(("append", key, next(element)))
            programs.append(program(ops))
        plans.append(programs)
    return Workload(
        "list-append",
        "list-append",
        plans,
        setup=Program(Isolation.READ_COMMITTED, [], setup_body),
        record_setup=False,
        params={"keys": keys, "max_ops": max_ops},
    )


# -- rw-register ---------------------------------------------------------------------------------


def rw_register(
    rng: random.Random,
    isolation: Isolation,
    *,
    clients: int = 4,
    txns_per_client: int = 10,
    keys: int = 4,
    max_ops: int = 4,
    read_fraction: float = 0.5,
) -> Workload:
    names = _keys("r", keys)
    value = count(1)

    def program(ops: list[tuple[str, str, int | None]]) -> Program:
        invoke = [[f, k, v] for f, k, v in ops]

        def body() -> Body:
            done: list[list[Any]] = []
            for f, key, written in ops:
                if f == "r":
                    seen = yield Get(key)
                    done.append(["r", key, seen])
                else:
                    yield Put(key, written)
                    done.append(["w", key, written])
            return done

        return Program(isolation, invoke, body)

    plans = []
    for _ in range(clients):
        programs = []
        for _ in range(txns_per_client):
            ops: list[tuple[str, str, int | None]] = []
            for _ in range(rng.randint(1, max_ops)):
                key = rng.choice(names)
                if rng.random() < read_fraction:
                    ops.append(("r", key, None))
                else:
                    ops.append(("w", key, next(value)))
            programs.append(program(ops))
        plans.append(programs)
    return Workload("rw-register", "rw-register", plans, params={"keys": keys})


# -- bank transfers ------------------------------------------------------------------------------


def balance_of(stored: int | None) -> int | None:
    return None if stored is None else stored // BALANCE_SCALE


def bank(
    rng: random.Random,
    isolation: Isolation,
    *,
    clients: int = 4,
    txns_per_client: int = 10,
    accounts: int = 4,
    initial: int = 100,
    audit_fraction: float = 0.25,
    for_update: bool = False,
) -> Workload:
    """Transfers and audits; ``for_update`` makes transfers lock what they read."""
    names = _keys("acct", accounts)
    write_id = count(1)

    def setup_body() -> Body:
        done = []
        for key in names:
            stored = initial * BALANCE_SCALE + next(write_id)
            yield Put(key, stored)
            done.append(["w", key, stored])
        return done

    setup_invoke = [["w", key, None] for key in names]

    def transfer(src: str, dst: str, amount: int) -> Program:
        partial: list[Any] = []
        invoke = [["r", src, None], ["r", dst, None], ["w", src, None], ["w", dst, None]]

        def body() -> Body:
            partial.clear()
            a = yield Get(src, for_update=for_update)
            partial.append(["r", src, a])
            b = yield Get(dst, for_update=for_update)
            partial.append(["r", dst, b])
            bal_a, bal_b = balance_of(a), balance_of(b)
            if bal_a is None or bal_b is None or bal_a < amount:
                return Rollback("insufficient funds", list(partial))
            new_a = (bal_a - amount) * BALANCE_SCALE + next(write_id)
            new_b = (bal_b + amount) * BALANCE_SCALE + next(write_id)
            partial.append(["w", src, new_a])
            yield Put(src, new_a)
            partial.append(["w", dst, new_b])
            yield Put(dst, new_b)
            return list(partial)

        return Program(isolation, invoke, body, partial=partial)

    def audit() -> Program:
        invoke = [["r", key, None] for key in names]

        def body() -> Body:
            done = []
            for key in names:
                seen = yield Get(key)
                done.append(["r", key, seen])
            return done

        return Program(isolation, invoke, body)

    plans = []
    for _ in range(clients):
        programs = []
        for _ in range(txns_per_client):
            if rng.random() < audit_fraction:
                programs.append(audit())
            else:
                src, dst = rng.sample(names, 2)
                programs.append(transfer(src, dst, rng.randint(1, initial // 2)))
        plans.append(programs)
    return Workload(
        "bank",
        "rw-register",
        plans,
        setup=Program(Isolation.READ_COMMITTED, setup_invoke, setup_body),
        record_setup=True,
        params={"accounts": accounts, "initial": initial, "for_update": for_update},
    )


@dataclass(frozen=True)
class BankCheck:
    audits: int
    bad_audits: int  # audits whose total differs from the money put in
    negative_balances: int  # balances below zero seen by any committed read


def bank_violations(events: Sequence[Event], accounts: int, initial: int) -> BankCheck:
    """Audits (committed reads of every account) whose total is not ``accounts * initial``."""
    audits = bad = negative = 0
    total = accounts * initial
    for event in events:
        if event.type != "ok" or event.f != "txn" or not event.value:
            continue
        ops = event.value
        reads = [balance_of(op[2]) for op in ops if op[0] == "r"]
        negative += sum(1 for r in reads if r is not None and r < 0)
        if len(ops) == accounts and all(op[0] == "r" for op in ops):
            audits += 1
            if any(r is None for r in reads) or sum(r for r in reads if r is not None) != total:
                bad += 1
    return BankCheck(audits, bad, negative)


# -- doctors on call -----------------------------------------------------------------------------


def doctors(
    rng: random.Random,
    isolation: Isolation,
    *,
    clients: int = 4,
    txns_per_client: int = 10,
    shifts: int = 2,
    per_shift: int = 2,
    on_call_fraction: float = 0.3,
) -> Workload:
    """Requests to go off call (read the shift, write own status) and to come back on."""
    roster = {s: [f"shift{s}-doc{d}" for d in range(per_shift)] for s in range(shifts)}
    stamp = count(1)

    def setup_body() -> Body:
        done = []
        for names in roster.values():
            for key in names:
                value = next(stamp)
                yield Put(key, value)
                done.append(["w", key, value])
        return done

    setup_invoke = [["w", key, None] for names in roster.values() for key in names]

    def off_call(shift: int, me: str) -> Program:
        written = -next(stamp)
        names = roster[shift]
        invoke = [["r", key, None] for key in names] + [["w", me, written]]

        def body() -> Body:
            done = []
            on_call = 0
            mine = None
            for key in names:
                seen = yield Get(key)
                done.append(["r", key, seen])
                on_call += seen is not None and seen > 0
                if key == me:
                    mine = seen
            if mine is None or mine < 0 or on_call < 2:
                return Rollback("would leave the shift uncovered", done)
            yield Put(me, written)
            done.append(["w", me, written])
            return done

        return Program(isolation, invoke, body)

    def on_call(me: str) -> Program:
        written = next(stamp)
        invoke = [["r", me, None], ["w", me, written]]

        def body() -> Body:
            seen = yield Get(me)
            yield Put(me, written)
            return [["r", me, seen], ["w", me, written]]

        return Program(isolation, invoke, body)

    plans = []
    for _ in range(clients):
        programs = []
        for _ in range(txns_per_client):
            shift = rng.randrange(shifts)
            me = rng.choice(roster[shift])
            if rng.random() < on_call_fraction:
                programs.append(on_call(me))
            else:
                programs.append(off_call(shift, me))
        plans.append(programs)
    return Workload(
        "doctors",
        "rw-register",
        plans,
        setup=Program(Isolation.READ_COMMITTED, setup_invoke, setup_body),
        record_setup=True,
        params={"shifts": shifts, "per_shift": per_shift},
    )


def doctors_violations(final: dict[str, Any], shifts: int, per_shift: int) -> int:
    """Shifts left with nobody on call in the final state (a write skew made visible)."""
    empty = 0
    for s in range(shifts):
        values = [final.get(f"shift{s}-doc{d}") for d in range(per_shift)]
        if not any(v is not None and v > 0 for v in values):
            empty += 1
    return empty
