"""Deliberately weak stores: the real systems behind the codex 5.1 experiments.

Each is a set of sans-IO nodes run by :class:`~archlab.sim.world.World`, with a client stub and
a workload, producing Elle-style list-append histories: an ``append`` adds a unique value to a
key's list, a read returns the whole list, so the order of versions is visible in every read.

:class:`LaggingReplicaStore` (serializable, not linearizable)
    A primary applies every operation and ships its appends to read replicas in batches, every
    ``lag`` seconds. Writers go to the primary, each reader to its own replica. Replicas apply
    the primary's log in order, so every read sees a prefix of one serial order; but a read
    can start after an append completed and not see it.

:class:`ObjectServers` (linearizable per object, not serializable as transactions)
    Each key lives on its own single-node server, whose operations are atomic and immediate.
    A "transaction" reads ``x``, reads ``y``, then appends to one of them, one request after
    another with no concurrency control, like an application doing check-then-act across two
    services: two concurrent ones can both read the old values and write different keys (write
    skew).

:class:`TimestampStore` (serializable, not strictly serializable)
    Gateways stamp each transaction with their local clock; one storage node runs multiversion
    timestamp ordering (reads see the versions older than the transaction's timestamp; an
    append that a later reader missed, or that a later version already follows, aborts the
    transaction). Every committed transaction takes effect in timestamp order, a serial order.
    With a gateway clock behind true time, a transaction that starts after another finished can
    still get the smaller timestamp and be ordered before it.

:func:`object_view` and :func:`transaction_view` turn the recorded histories into the two
forms the checkers read; :class:`ListAppendModel` is the per-key sequential specification the
linearizability checker uses for list-append operations.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from archlab.check.history import Event, Operation
from archlab.check.models import Model
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

Micro = tuple[str, Hashable, Any]


@dataclass(frozen=True, slots=True)
class Done:
    """A transaction's outcome: the micro-operations with reads filled in, or aborted."""

    micro: tuple[Micro, ...]
    committed: bool = True


@dataclass(frozen=True, slots=True)
class Elsewhere:
    """This node does not serve that operation; ask ``node``."""

    node: Address


def _execute(state: dict[Hashable, tuple[Any, ...]], micro: Iterable[Micro]) -> tuple[Micro, ...]:
    """Run list-append micro-operations atomically against ``state`` (mutated)."""
    done: list[Micro] = []
    for f, key, value in micro:
        if f == "append":
            state[key] = (*state.get(key, ()), value)
            done.append((f, key, value))
        else:
            done.append((f, key, state.get(key, ())))
    return tuple(done)


def _writes(micro: Iterable[Micro]) -> bool:
    return any(f == "append" for f, _, _ in micro)


# -- 1. a primary with lagging read replicas ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ship:
    first: int
    entries: tuple[tuple[Hashable, Any], ...]


class LaggingReplicaStore:
    """Primary ``n0`` and read replicas (see the module docstring)."""

    def __init__(self, env: NodeEnv, lag: float) -> None:
        self.me = env.address
        self.primary = env.peers[0]
        self.replicas = env.peers[1:]
        self.lag = lag
        self.state: dict[Hashable, tuple[Any, ...]] = {}
        self.log: list[tuple[Hashable, Any]] = []
        self.applied = 0
        self.pending: dict[int, tuple[tuple[Hashable, Any], ...]] = {}

    def start(self, now: float) -> list[Effect]:
        return [SetTimer("ship", self.lag)] if self.me == self.primary else []

    def on_request(self, now: float, request: Request) -> list[Effect]:
        micro = request.op.value
        if self.me != self.primary and _writes(micro):
            return [Reply(request, Elsewhere(self.primary))]
        done = _execute(self.state, micro)
        if self.me == self.primary:
            self.log += [(k, v) for f, k, v in done if f == "append"]
        return [Reply(request, Done(done))]

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        batch = Ship(0, tuple(self.log))
        return [*(Send(r, batch) for r in self.replicas), SetTimer("ship", self.lag)]

    def on_message(self, now: float, src: Address, message: Any) -> list[Effect]:
        if isinstance(message, Ship):
            for key, value in message.entries[self.applied :]:
                self.state[key] = (*self.state.get(key, ()), value)
            self.applied = max(self.applied, len(message.entries))
        return []


def lagging_replica_factory(lag: float) -> NodeFactory:
    def build(env: NodeEnv) -> LaggingReplicaStore:
        return LaggingReplicaStore(env, lag)

    return build


class ReplicaStub:
    """Appends go to the primary; this client's reads go to its own replica."""

    def __init__(self, servers: tuple[Address, ...], replica: Address) -> None:
        self.primary = servers[0]
        self.replica = replica

    def route(self, op: Op) -> Address:
        return self.primary if _writes(op.value) else self.replica

    def timed_out(self, op: Op, target: Address) -> None:
        pass

    def interpret(self, op: Op, source: Address, result: Any) -> Completion | Redirect:
        if isinstance(result, Elsewhere):
            return Redirect(result.node)
        assert isinstance(result, Done)
        return Completion("ok", result.micro)


def replica_stubs() -> StubFactory:
    """A stub factory giving the i-th client the i-th replica (round robin)."""
    made = {"n": 0}

    def build(servers: tuple[Address, ...], rng: random.Random) -> ReplicaStub:
        replicas = servers[1:] or servers
        stub = ReplicaStub(servers, replicas[made["n"] % len(replicas)])
        made["n"] += 1
        return stub

    return build


def primary_stubs() -> StubFactory:
    """The control: every client reads at the primary too."""

    def build(servers: tuple[Address, ...], rng: random.Random) -> ReplicaStub:
        return ReplicaStub(servers, servers[0])

    return build


@dataclass
class SingleKeyWorkload:
    """One-micro-op transactions on ``keys``: an append of a unique value, or a read."""

    keys: tuple[Hashable, ...] = ("x",)
    read_ratio: float = 0.5
    _next: int = field(default=0, repr=False)

    def next_op(self, rng: random.Random, process: int) -> Op:
        key = rng.choice(self.keys)
        if rng.random() < self.read_ratio:
            return Op("txn", None, (("r", key, None),))
        self._next += 1
        return Op("txn", None, (("append", key, self._next),))


# -- 2. one server per object, transactions without concurrency control --------------------


class ObjectServer:
    """A single-node server of list-append operations on any key: atomic and immediate."""

    def __init__(self, env: NodeEnv) -> None:
        self.state: dict[Hashable, tuple[Any, ...]] = {}

    def start(self, now: float) -> list[Effect]:
        return []

    def on_request(self, now: float, request: Request) -> list[Effect]:
        op = request.op
        ((_, _, value),) = _execute(self.state, [(op.f, op.key, op.value)])
        return [Reply(request, value)]

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        return []

    def on_message(self, now: float, src: Address, message: Any) -> list[Effect]:
        return []


def object_servers_factory() -> NodeFactory:
    return ObjectServer


class ObjectStub:
    """Key ``x`` lives on the first server, ``y`` on the second (``keys`` maps the rest)."""

    def __init__(self, servers: tuple[Address, ...], keys: Sequence[Hashable]) -> None:
        self.home = {k: servers[i % len(servers)] for i, k in enumerate(keys)}

    def route(self, op: Op) -> Address:
        return self.home[op.key]

    def timed_out(self, op: Op, target: Address) -> None:
        pass

    def interpret(self, op: Op, source: Address, result: Any) -> Completion | Redirect:
        return Completion("ok", result)


@dataclass
class CheckThenActWorkload:
    """Per client, repeatedly: read every key, then append a unique value to one of them."""

    keys: tuple[Hashable, ...] = ("x", "y")
    _step: dict[int, int] = field(default_factory=dict, repr=False)
    _next: int = field(default=0, repr=False)

    def next_op(self, rng: random.Random, process: int) -> Op:
        step = self._step.get(process, 0)
        self._step[process] = (step + 1) % (len(self.keys) + 1)
        if step < len(self.keys):
            return Op("read", self.keys[step], None)
        self._next += 1
        return Op("append", rng.choice(self.keys), self._next)


# -- 3. timestamp ordering with clocks that disagree ----------------------------------------

Stamp = tuple[float, str, int]


@dataclass(frozen=True, slots=True)
class Execute:
    txn: int
    stamp: Stamp
    micro: tuple[Micro, ...]


@dataclass(frozen=True, slots=True)
class Executed:
    txn: int
    outcome: Done


class TimestampStore:
    """``n0`` stores versions (multiversion timestamp ordering); the others are gateways."""

    def __init__(self, env: NodeEnv) -> None:
        self.me = env.address
        self.storage = env.peers[0]
        # storage: key -> [(stamp, value)] in stamp order, and the latest stamp that read it
        self.versions: dict[Hashable, list[tuple[Stamp, Any]]] = {}
        self.read_stamp: dict[Hashable, Stamp] = {}
        # gateway: transactions forwarded and not yet answered
        self.waiting: dict[int, Request] = {}
        self.counter = 0

    def start(self, now: float) -> list[Effect]:
        return []

    def on_timer(self, now: float, key: Hashable) -> list[Effect]:
        return []

    def on_request(self, now: float, request: Request) -> list[Effect]:
        if self.me == self.storage:
            return [Reply(request, Elsewhere(self.storage))]
        self.counter += 1
        self.waiting[self.counter] = request
        stamp = (now, self.me, self.counter)
        return [Send(self.storage, Execute(self.counter, stamp, request.op.value))]

    def on_message(self, now: float, src: Address, message: Any) -> list[Effect]:
        if isinstance(message, Execute):
            return [Send(src, Executed(message.txn, self.execute(message.stamp, message.micro)))]
        if isinstance(message, Executed):
            request = self.waiting.pop(message.txn, None)
            if request is not None:
                return [Reply(request, message.outcome)]
        return []

    def execute(self, stamp: Stamp, micro: tuple[Micro, ...]) -> Done:
        """Run a transaction at ``stamp``, or abort it if that would rewrite history."""
        for f, key, _ in micro:
            if f != "append":
                continue
            newest = self.versions.get(key)
            read = self.read_stamp.get(key)
            if (newest and newest[-1][0] > stamp) or (read is not None and read > stamp):
                return Done(micro, committed=False)
        snapshot = {
            key: tuple(v for s, v in self.versions.get(key, []) if s < stamp) for _, key, _ in micro
        }
        done = _execute(snapshot, micro)
        for f, key, value in done:
            if f == "append":
                self.versions.setdefault(key, []).append((stamp, value))
            elif self.read_stamp.get(key, stamp) <= stamp:
                self.read_stamp[key] = stamp
        return Done(done)


def timestamp_store_factory() -> NodeFactory:
    return TimestampStore


class GatewayStub:
    """Each client always uses the same gateway (client i: gateway ``1 + i mod gateways``)."""

    def __init__(self, gateway: Address) -> None:
        self.gateway = gateway

    def route(self, op: Op) -> Address:
        return self.gateway

    def timed_out(self, op: Op, target: Address) -> None:
        pass

    def interpret(self, op: Op, source: Address, result: Any) -> Completion | Redirect:
        assert isinstance(result, Done)
        if not result.committed:
            return Completion("fail", op.value)
        return Completion("ok", result.micro)


def gateway_stubs() -> StubFactory:
    made = {"n": 0}

    def build(servers: tuple[Address, ...], rng: random.Random) -> GatewayStub:
        gateways = servers[1:]
        stub = GatewayStub(gateways[made["n"] % len(gateways)])
        made["n"] += 1
        return stub

    return build


# -- the two views of a history -----------------------------------------------------------


def object_view(events: Sequence[Event]) -> list[Event]:
    """Single-micro-op transactions as per-key operations: ``append v`` and ``read -> list``."""
    out: list[Event] = []
    for e in events:
        ((f, key, value),) = e.value
        if f == "append":
            out.append(Event(e.process, e.type, "append", value, key, e.time))
        else:
            shown = value if e.type == "ok" else None
            out.append(Event(e.process, e.type, "read", shown, key, e.time))
    return _numbered(out)


def transaction_view(events: Sequence[Event], size: int) -> list[Event]:
    """Per-object operations grouped ``size`` at a time per process into transactions.

    Each transaction is invoked when its first operation is and completes when its last does
    (``info`` if any part is unknown). A process's trailing incomplete group holds only reads
    (the workload ends each group with its one write) and is left out.
    """
    groups: dict[int | str, list[tuple[Event, Event | None]]] = {}
    pending: dict[int | str, Event] = {}
    for e in events:
        if e.type == "invoke":
            pending[e.process] = e
        else:
            groups.setdefault(e.process, []).append((pending.pop(e.process), e))
    for invoke in pending.values():
        groups.setdefault(invoke.process, []).append((invoke, None))
    txns: list[tuple[float, int, Event]] = []
    for process, ops in groups.items():
        for start in range(0, len(ops) - size + 1, size):
            part = ops[start : start + size]
            micro: list[list[Any]] = []
            unknown = False
            for invoke, done in part:
                f = "append" if invoke.f == "append" else "r"
                if done is None or done.type == "info":
                    unknown = True
                    micro.append([f, invoke.key, invoke.value if f == "append" else None])
                else:
                    micro.append([f, invoke.key, done.value if f == "r" else invoke.value])
            invoke_micro = [[f, k, v if f == "append" else None] for f, k, v in micro]
            begin = part[0][0].time or 0.0
            done_at = [d.time or 0.0 for _, d in part if d is not None]
            end = max([begin, *done_at])
            txns.append(
                (begin, 0, Event(process, "invoke", "txn", _freeze(invoke_micro), None, begin))
            )
            status: Literal["ok", "info"] = "info" if unknown else "ok"
            value = _freeze(invoke_micro if unknown else micro)
            txns.append((end, 1, Event(process, status, "txn", value, None, end)))
    txns.sort(key=lambda t: (t[0], t[1]))
    return _numbered([e for _, _, e in txns])


def _numbered(events: list[Event]) -> list[Event]:
    """Events with their line numbers in the JSON Lines file they would be written as."""
    return [replace(e, line=i) for i, e in enumerate(events, 1)]


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


class ListAppendModel(Model):
    """Per-key lists: ``append v`` adds ``v`` at the end; ``read`` returns the whole list.

    The sequential specification of the objects in :func:`object_view` histories, checked key
    by key (each key is an independent object, so the history splits exactly by key).
    """

    name = "list-append"
    description = "independent lists per key (f: append v, read -> [values])"

    def init(self, initial: Any) -> Hashable:
        return tuple(initial or ())

    def included(self, op: Operation) -> bool:
        if op.f == "read":
            return op.status == "ok"
        return op.status != "fail"

    def read_only(self, op: Operation) -> bool:
        return op.f == "read"

    def footprint(self, op: Operation) -> Hashable | None:
        return (op.f, op.status, op.output if op.f == "read" else op.value)

    def validate(self, op: Operation) -> str | None:
        if op.f not in ("append", "read"):
            return f"the list-append model has no operation {op.f!r} (expected append, read)"
        return None

    def step(self, state: Hashable, op: Operation) -> tuple[bool, Hashable]:
        assert isinstance(state, tuple)
        if op.f == "read":
            return tuple(op.output or ()) == state, state
        return True, (*state, op.value)

    def partition(self, ops: Sequence[Operation]) -> list[tuple[Hashable, list[Operation]]]:
        groups: dict[Hashable, list[Operation]] = {}
        for op in ops:
            groups.setdefault(op.key, []).append(op)
        return list(groups.items())


LIST_APPEND = ListAppendModel()
