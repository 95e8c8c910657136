"""The contract between a sans-IO protocol and whatever drives it (codex 5.1-5.3, 6.1).

A protocol node is a plain object implementing :class:`Node`. It never performs I/O and never
reads a clock or a global random generator: every input arrives through one of four methods,
with the node's *local* time as ``now``, and every output is an :data:`Effect` in the list the
method returns. The same object runs in the simulator (:class:`archlab.sim.host.Host`) and,
later, over real sockets (``archlab.runtime``).

Inputs (methods of :class:`Node`)
    ``start(now)``                      booted, or rebooted after a crash
    ``on_message(now, src, message)``   a message from another node arrived
    ``on_timer(now, key)``              a timer set with ``SetTimer(key, ...)`` fired
    ``on_request(now, request)``        a client's :class:`Request` arrived

Outputs (effects, executed by the host in list order)
    ``Send(dst, message)``              best-effort datagram to another node
    ``SetTimer(key, delay)``            fire ``on_timer(key)`` after ``delay`` local seconds
                                        (replaces a pending timer with the same key)
    ``CancelTimer(key)``
    ``Sync()``                          fsync the node's disk; a *barrier*: the effects after it
                                        (from this and later callbacks) run only once the sync
                                        completed, and never if the node crashes first
    ``Reply(request, result)``          answer a client
    ``Apply(index, command, result)``   the node applied a committed command (recorded by the
                                        host so tests can compare what every replica applied)
    ``Note(text)``                      an annotation in the trace ("became leader of term 4")

Persistence: the factory receives the node's :class:`~archlab.sim.disk.Disk` in its
:class:`NodeEnv`. Writes to it are immediate but volatile (a page cache); ``Sync()`` makes them
durable. A node that must not send before its state is durable (a vote, an acknowledgement)
writes, then returns ``[Sync(), Send(...)]``: the host guarantees the order. On restart the
factory is called again with the same disk (durable restart) or an empty one (volatile
restart); the node recovers from it in ``__init__`` or ``start``.

Adapting an etcd-style core (``step``/``tick``/``propose``/``ready``/``advance``)::

    class RaftNode:
        def __init__(self, env: NodeEnv) -> None:
            self.log = RecordLog.open(env.disk, "raft.log")
            self.core = RaftCore(env.address, env.peers, restored=..., rng=env.rng)

        def on_message(self, now, src, message):
            self.core.step(message)
            return self.drain()

        def on_timer(self, now, key):
            self.core.tick()
            return [*self.drain(), SetTimer("tick", TICK)]

        def drain(self):
            effects = []
            while self.core.has_ready():
                rd = self.core.ready()
                if rd.entries or rd.hard_state:
                    ...write entries to self.log and the hard state with write_state...
                    effects.append(Sync())              # persist before send
                effects += [Send(m.to, m) for m in rd.messages]
                effects += [Apply(e.index, e.data) for e in rd.committed_entries]
                self.core.advance(rd)
            return effects

``tests/sim/test_ready_adapter.py`` runs exactly this shape under crashes and checks that no
message ever leaves a node before the state it reflects is durable.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from archlab.sim.disk import Disk

Address = str


@dataclass(frozen=True, slots=True)
class Op:
    """A client operation: ``f`` (read, write, cas, txn ...), an optional key, a value."""

    f: str
    key: Hashable | None = None
    value: Any = None


@dataclass(frozen=True, slots=True)
class Request:
    """A client's request as the node receives it; answer it with ``Reply(request, result)``.

    ``envelope`` is what the client's stub added to the operation, if anything (a stub with an
    ``envelope(op)`` method, e.g. a session and sequence number); ``None`` otherwise.
    """

    id: int
    client: Address
    op: Op
    envelope: Any = None


@dataclass(frozen=True, slots=True)
class Response:
    """What travels back to the client."""

    request_id: int
    result: Any


# -- effects ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    dst: Address
    message: Any


@dataclass(frozen=True, slots=True)
class SetTimer:
    key: Hashable
    delay: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    key: Hashable


@dataclass(frozen=True, slots=True)
class Sync:
    """Make everything written to the node's disk durable before any later effect."""


@dataclass(frozen=True, slots=True)
class Reply:
    request: Request
    result: Any


@dataclass(frozen=True, slots=True)
class Apply:
    index: int
    command: Any
    result: Any = None


@dataclass(frozen=True, slots=True)
class Note:
    text: str


Effect = Send | SetTimer | CancelTimer | Sync | Reply | Apply | Note
Effects = Iterable[Effect] | None


@dataclass(frozen=True)
class NodeEnv:
    """What a node is built with: its name, its peers, its disk and its random stream.

    ``peers`` lists every server of the cluster, this one included, in a fixed order.
    ``incarnation`` counts boots (0 at the first). ``rng`` is a stream of the simulation
    (a fresh one per incarnation), so a node's random choices are reproducible.
    """

    address: Address
    peers: tuple[Address, ...]
    disk: Disk
    rng: random.Random
    incarnation: int = 0


class Node(Protocol):
    """A sans-IO protocol node (see the module docstring)."""

    def start(self, now: float) -> Effects: ...

    def on_message(self, now: float, src: Address, message: Any) -> Effects: ...

    def on_timer(self, now: float, key: Hashable) -> Effects: ...

    def on_request(self, now: float, request: Request) -> Effects: ...


NodeFactory = Callable[[NodeEnv], Node]
