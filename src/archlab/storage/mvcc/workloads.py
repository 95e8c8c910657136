"""Transaction workloads whose histories the isolation checker can judge (codex 4.3, 5.1).

Each builder returns a :class:`Workload`: per-client lists of :class:`Program` s, an optional
setup program run alone first, and the checker's workload kind. Values are chosen so that a
checker can tell versions apart (Elle's requirements): every appended element and every
written register value is unique.

* :func:`list_append`: Elle's list-append. Keys hold tuples; an append is a locking read
  (``SELECT ... FOR UPDATE``) then a write of the extended list, so under read committed the
  append applies to the newest version, as ``UPDATE ... SET v = v || x`` does in PostgreSQL.
  Transactions may read a key twice, which is how a non-repeatable read shows.
* :func:`rw_register`: reads, blind writes of unique values, and read-modify-writes (read a
  key, then write it): two of those based on the same version are a lost update, which read
  committed allows and the snapshot levels prevent (first updater wins).
* :func:`bank`: accounts as ledgers (list-append). A transfer reads the source's ledger,
  checks the funds, and appends a debit to it and a credit to the destination; an audit reads
  every ledger. Each entry is ``amount * 10^6 + entry id``, unique and known before the
  transaction runs. Money cannot be created by a transfer, but an audit that sees half of one
  reports a wrong total, and a funds check on a stale balance overdraws the account.
* :func:`doctors`: Cahill's doctors on call. Each shift needs one doctor on call; a doctor goes
  off call only after reading that at least two are on call. Under snapshot isolation two
  doctors can both go off (write skew, G2); serializable must prevent it. On-call is a positive
  value, off-call a negative one, both unique.

:func:`bank_violations`, :func:`doctors_violations` and :func:`lost_updates` measure the
application's view in a recorded history (audits that saw money created or destroyed,
overdrawn accounts, shifts left with nobody on call, increments overwritten), which complements
the checker's verdict with what a user would notice.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Literal

from archlab.check.history import Event
from archlab.storage.mvcc.scheduler import Body, Get, Program, Put, Rollback
from archlab.storage.mvcc.transaction import Isolation

WorkloadKind = Literal["list-append", "rw-register"]

#: A ledger entry is amount * BALANCE_SCALE + entry id (unique per entry).
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
    read_fraction: float = 0.4,
    rmw_fraction: float = 0.3,
) -> Workload:
    """Reads, blind writes and read-then-write pairs on a few registers."""
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
            size = rng.randint(1, max_ops)
            while len(ops) < size:
                key = rng.choice(names)
                draw = rng.random()
                if draw < rmw_fraction:
                    ops += [("r", key, None), ("w", key, next(value))]
                elif draw < rmw_fraction + read_fraction:
                    ops.append(("r", key, None))
                else:
                    ops.append(("w", key, next(value)))
            programs.append(program(ops))
        plans.append(programs)
    return Workload("rw-register", "rw-register", plans, params={"keys": keys})


def lost_updates(events: Sequence[Event]) -> int:
    """Committed read-modify-writes overwritten by another based on the same version: for
    each (key, version read) that several committed transactions read before writing the key,
    all but one of those writes were lost."""
    based_on: dict[tuple[Any, Any], int] = {}
    for event in events:
        if event.type != "ok" or event.f != "txn":
            continue
        read: dict[Any, Any] = {}
        for f, key, v in event.value:
            if f == "r" and key not in read:
                read[key] = v
            elif f == "w" and key in read:
                based_on[(key, read[key])] = based_on.get((key, read[key]), 0) + 1
                del read[key]
    return sum(n - 1 for n in based_on.values() if n > 1)


# -- bank transfers ------------------------------------------------------------------------------


def ledger_entry(amount: int, entry_id: int) -> int:
    """A ledger entry: the amount moved and a unique id, in one integer."""
    if not 0 < entry_id < BALANCE_SCALE:
        raise ValueError(f"entry id {entry_id} out of range")
    return amount * BALANCE_SCALE + entry_id


def amount_of(entry: int) -> int:
    return entry // BALANCE_SCALE


def balance_of(ledger: Sequence[int] | None) -> int:
    """An account's balance: the sum of its ledger's amounts."""
    return sum(amount_of(e) for e in ledger or ())


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
    """Transfers and audits; ``for_update`` makes the funds check a locking read."""
    names = _keys("acct", accounts)
    entry_id = count(1)
    deposits = {key: ledger_entry(initial, next(entry_id)) for key in names}

    def setup_body() -> Body:
        for key, entry in deposits.items():
            current = yield Get(key, for_update=True)
            yield Put(key, (*(current or ()), entry))
        return [["append", key, entry] for key, entry in deposits.items()]

    def append(key: str, entry: int) -> Body:
        current = yield Get(key, for_update=True)
        yield Put(key, (*(current or ()), entry))

    def transfer(src: str, dst: str, amount: int) -> Program:
        debit = ledger_entry(-amount, next(entry_id))
        credit = ledger_entry(amount, next(entry_id))
        invoke = [["r", src, None], ["append", src, debit], ["append", dst, credit]]

        def body() -> Body:
            ledger = yield Get(src, for_update=for_update)
            if balance_of(ledger) < amount:
                return Rollback("insufficient funds")
            yield from append(src, debit)
            yield from append(dst, credit)
            return [["r", src, list(ledger or ())], ["append", src, debit], ["append", dst, credit]]

        return Program(isolation, invoke, body)

    def audit() -> Program:
        invoke = [["r", key, None] for key in names]

        def body() -> Body:
            done = []
            for key in names:
                ledger = yield Get(key)
                done.append(["r", key, list(ledger or ())])
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
        "list-append",
        plans,
        setup=Program(
            Isolation.READ_COMMITTED,
            [["append", key, entry] for key, entry in deposits.items()],
            setup_body,
        ),
        record_setup=True,
        params={"accounts": accounts, "initial": initial, "for_update": for_update},
    )


@dataclass(frozen=True)
class BankCheck:
    audits: int
    bad_audits: int  # audits whose total differs from the money deposited
    overdrawn: int  # accounts with a negative balance at the end


def bank_violations(
    events: Sequence[Event], final: dict[str, Any], accounts: int, initial: int
) -> BankCheck:
    """Audits (committed reads of every account) whose total is not ``accounts * initial``,
    and accounts overdrawn in the final state. Transfers move money between ledgers in one
    transaction, so only an audit that sees half a transfer gets a wrong total; only a funds
    check on a stale balance lets an account go negative."""
    audits = bad = 0
    total = accounts * initial
    for event in events:
        if event.type != "ok" or event.f != "txn" or not event.value:
            continue
        ops = event.value
        if len(ops) == accounts and all(op[0] == "r" for op in ops):
            audits += 1
            if sum(balance_of(op[2]) for op in ops) != total:
                bad += 1
    overdrawn = sum(1 for ledger in final.values() if balance_of(ledger) < 0)
    return BankCheck(audits, bad, overdrawn)


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
    initial = {key: next(stamp) for names in roster.values() for key in names}

    def setup_body() -> Body:
        for key, value in initial.items():
            yield Put(key, value)
        return [["w", key, value] for key, value in initial.items()]

    setup_invoke = [["w", key, value] for key, value in initial.items()]

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
                return Rollback("would leave the shift uncovered")
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
