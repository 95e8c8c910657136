"""Snapshot-isolation stores with the two classic flaws, for the isolation checker (codex 5.1).

Each is a set of sans-IO nodes run by :class:`~archlab.sim.world.World`; the checker
(``archlab check isolation --consistency snapshot-isolation``) must catch each flaw from the
history alone, and pass the same store with the flaw turned off.

:class:`SnapshotStore` (rw-register; snapshot isolation, optionally without first committer wins)
    One node. A transaction reads from a snapshot of the committed versions taken when it
    arrives, buffers its writes, and commits after a random delay (the time a real client
    spends between its statements). With ``first_committer_wins`` a transaction that writes a
    key some other transaction committed after its snapshot aborts; without it, both commit
    and the second overwrites the first: a **lost update**, the flaw of databases that check
    write conflicts only at the row lock, not against the snapshot.

:class:`ForkingStore` (list-append; parallel snapshots that fork)
    Every key has a home node, which executes the transactions that append to it atomically
    against its own copy of the data and ships its appends to the other nodes every ``lag``
    seconds. Read-only transactions go to the client's own node. Each key's appends are in
    one order everywhere, but each node sees its own keys' newest appends before the others':
    two readers on two nodes can each see one of two independent writes and not the other,
    a **long fork** (a G-nonadjacent cycle). With one node it is serializable.
"""

from __future__ import annotations

import random
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from archlab.sim.client import Completion, Redirect, StubFactory
from archlab.sim.process import (
    Address,
    Effect,
    NodeEnv,
    NodeFactory,
    Op,
    Reply,
    Request,
    Send,
    SetTimer,
)
from archlab.sim.weakstores import Done, Micro, Ship, _execute

# -- 1. snapshot isolation, with or without first committer wins ------------------------------


@dataclass
class _Open:
    request: Request
    start: int
    micro: tuple[Micro, ...]
    writes: dict[Hashable, Any]


class SnapshotStore:
    """Multiversion rw-register store on one node (see the module docstring)."""

    def __init__(self, env: NodeEnv, first_committer_wins: bool, think: float) -> None:
        self.rng = env.rng
        self.first_committer_wins = first_committer_wins
        self.think = think
        self.state: dict[Hashable, Any] = {}
        self.committed_at: dict[Hashable, int] = {}  # key -> commit number of its last write
        self.commits = 0
        self.open: dict[int, _Open] = {}

    def start(self, now: float) -> list[Effect]:
        return []

    def on_request(self, now: float, request: Request) -> list[Effect]:
        snapshot = dict(self.state)
        done: list[Micro] = []
        writes: dict[Hashable, Any] = {}
        for f, key, value in request.op.value:
            if f == "w":
                writes[key] = value
                done.append((f, key, value))
            else:
                done.append((f, key, writes.get(key, snapshot.get(key))))
        self.open[request.id] = _Open(request, self.commits, tuple(done), writes)
        return [SetTimer(("commit", request.id), self.rng.uniform(0, self.think))]

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        assert isinstance(key, tuple)
        txn = self.open.pop(key[1])
        if self.first_committer_wins and any(
            self.committed_at.get(k, -1) >= txn.start for k in txn.writes
        ):
            return [Reply(txn.request, Done(txn.micro, committed=False))]
        if txn.writes:
            self.commits += 1
            for k, value in txn.writes.items():
                self.state[k] = value
                self.committed_at[k] = self.commits - 1
        return [Reply(txn.request, Done(txn.micro))]

    def on_message(self, now: float, src: Address, message: Any) -> list[Effect]:
        return []


def snapshot_store_factory(*, first_committer_wins: bool, think: float = 0.05) -> NodeFactory:
    def build(env: NodeEnv) -> SnapshotStore:
        return SnapshotStore(env, first_committer_wins, think)

    return build


class TxnStub:
    """Every transaction goes to ``servers[0]``; an aborted one completes as ``fail``."""

    def __init__(self, server: Address) -> None:
        self.server = server

    def route(self, op: Op) -> Address:
        return self.server

    def timed_out(self, op: Op, target: Address) -> None:
        pass

    def interpret(self, op: Op, source: Address, result: Any) -> Completion | Redirect:
        assert isinstance(result, Done)
        if not result.committed:
            return Completion("fail", op.value)
        return Completion("ok", result.micro)


def single_server_stubs() -> StubFactory:
    def build(servers: tuple[Address, ...], rng: random.Random) -> TxnStub:
        return TxnStub(servers[0])

    return build


@dataclass
class ReadModifyWriteWorkload:
    """rw-register transactions that read a key and then write it (or only read keys)."""

    keys: tuple[Hashable, ...] = ("x", "y")
    read_only_ratio: float = 0.3
    _next: int = field(default=0, repr=False)

    def next_op(self, rng: random.Random, process: int) -> Op:
        if rng.random() < self.read_only_ratio:
            return Op("txn", None, tuple(("r", k, None) for k in self.keys))
        key = rng.choice(self.keys)
        self._next += 1
        return Op("txn", None, (("r", key, None), ("w", key, self._next)))


# -- 2. parallel snapshots that fork ------------------------------------------------------------


class ForkingStore:
    """Each key's appends run at its home node and reach the others late."""

    def __init__(self, env: NodeEnv, keys: tuple[Hashable, ...], lag: float) -> None:
        self.me = env.address
        self.peers = env.peers
        self.lag = lag
        self.state: dict[Hashable, tuple[Any, ...]] = {}
        self.log: list[tuple[Hashable, Any]] = []  # appends this node executed, in order
        self.applied: dict[Address, int] = {}  # entries of each peer's log applied here

    def start(self, now: float) -> list[Effect]:
        return [SetTimer("ship", self.lag)] if len(self.peers) > 1 else []

    def on_request(self, now: float, request: Request) -> list[Effect]:
        done = _execute(self.state, request.op.value)
        self.log += [(k, v) for f, k, v in done if f == "append"]
        return [Reply(request, Done(done))]

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        batch = Ship(0, tuple(self.log))
        others = [p for p in self.peers if p != self.me]
        return [*(Send(p, batch) for p in others), SetTimer("ship", self.lag)]

    def on_message(self, now: float, src: Address, message: Any) -> list[Effect]:
        if isinstance(message, Ship):
            start = self.applied.get(src, 0)
            for key, value in message.entries[start:]:
                self.state[key] = (*self.state.get(key, ()), value)
            self.applied[src] = max(start, len(message.entries))
        return []


def forking_store_factory(keys: tuple[Hashable, ...], lag: float = 0.3) -> NodeFactory:
    def build(env: NodeEnv) -> ForkingStore:
        return ForkingStore(env, keys, lag)

    return build


class ForkStub:
    """Appends go to their key's home node; read-only transactions to this client's node."""

    def __init__(self, servers: tuple[Address, ...], keys: tuple[Hashable, ...], own: int) -> None:
        self.home = {k: servers[i % len(servers)] for i, k in enumerate(keys)}
        self.own = servers[own % len(servers)]

    def route(self, op: Op) -> Address:
        appended = [k for f, k, _ in op.value if f == "append"]
        return self.home[appended[0]] if appended else self.own

    def timed_out(self, op: Op, target: Address) -> None:
        pass

    def interpret(self, op: Op, source: Address, result: Any) -> Completion | Redirect:
        assert isinstance(result, Done)
        return Completion("ok", result.micro)


def fork_stubs(keys: tuple[Hashable, ...]) -> StubFactory:
    made = {"n": 0}

    def build(servers: tuple[Address, ...], rng: random.Random) -> ForkStub:
        stub = ForkStub(servers, keys, made["n"])
        made["n"] += 1
        return stub

    return build


@dataclass
class ForkWorkload:
    """Read-only transactions reading every key, and appends to one key each."""

    keys: tuple[Hashable, ...] = ("x", "y")
    read_only_ratio: float = 0.6
    _next: int = field(default=0, repr=False)

    def next_op(self, rng: random.Random, process: int) -> Op:
        if rng.random() < self.read_only_ratio:
            return Op("txn", None, tuple(("r", k, None) for k in self.keys))
        self._next += 1
        return Op("txn", None, (("append", rng.choice(self.keys), self._next),))
