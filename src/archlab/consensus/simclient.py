"""The simulated client of a consensus kv server: sessions, sequence numbers, redirects (codex 5.3).

:class:`KVClientStub` is the protocol-specific half of a simulated client
(:class:`archlab.sim.client.ClientStub`) for every server built on
:mod:`archlab.consensus.server` — Raft's, Multi-Paxos's, Zab's — so one workload runs on all
three. Per client process it keeps:

- a **session** (Raft dissertation §6.3): before its first command the stub sends
  :class:`~archlab.consensus.client.OpenSession`; the reply's value is the session id. Opening
  is invisible in the history: the stub then redirects the operation to the same server, now as
  a command;
- a **sequence number** per operation: every attempt of one operation (redirects, retries)
  carries the same ``(session, seq)``, so a command that commits twice is applied once, and the
  next operation gets ``seq + 1``. The pair travels in the simulator request's ``envelope``;
- a **guess of the leader**: it sends to its guess, follows ``not-leader`` hints (server ids,
  ``1..N`` in the world's order), tries the next server after a timeout or when there is no
  hint, and retries where it is after ``retry`` (an attempt overwritten by a new leader) or
  ``busy``.

What a reply means for the history: ``ok`` completes the operation (a read with the value read,
a write or cas with its own value), ``fail`` is a compare that failed, and a server's ``info``
(a session evicted, a stale sequence number) is recorded ``info``: it may have taken effect.
"""

from __future__ import annotations

from typing import Any

from archlab.consensus.client import (
    Cas,
    Command,
    KVOperation,
    OpenSession,
    Payload,
    Read,
    Reply,
    Value,
    Write,
)
from archlab.consensus.simhost import server_address
from archlab.randomness import RandomSource
from archlab.sim.client import Completion, Redirect
from archlab.sim.process import Address, Op
from archlab.sim.workload import RegisterWorkload

DEFAULT_KEYS = ("a", "b", "c")
#: Errors after which the same attempt is simply retried at the same server.
_RETRY_HERE = ("retry", "busy")


def kv_operation(op: Op) -> KVOperation:
    """The kv operation of a workload's :class:`~archlab.sim.process.Op`."""
    key = str(op.key)
    if op.f == "read":
        return Read(key)
    if op.f == "write":
        return Write(key, _scalar(op.value))
    if op.f == "cas":
        expected, new = op.value
        return Cas(key, _scalar(expected), _scalar(new))
    raise ValueError(f"the kv store has no operation {op.f!r}")


def _scalar(value: Any) -> Value:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise ValueError(f"kv values are JSON scalars, got {value!r}")


def kv_workload(
    keys: tuple[str, ...] = DEFAULT_KEYS, values: int = 5, reads: float = 0.5
) -> RegisterWorkload:
    """Reads (a share ``reads``), writes and compare-and-sets (half the rest each) over several
    keys: the ``kv`` model's history."""
    if not 0 <= reads <= 1:
        raise ValueError(f"the share of reads must be in [0, 1], got {reads}")
    rest = (1 - reads) / 2
    return RegisterWorkload(reads=reads, writes=rest, cas=rest, keys=keys, values=values)


class KVClientStub:
    """One client's session, sequence numbers and leader guess (see the module docstring)."""

    def __init__(
        self,
        servers: tuple[Address, ...],
        rng: RandomSource,
        retry_delay: float = 0.01,
    ) -> None:
        self.servers = servers
        self.rng = rng
        self.retry_delay = retry_delay
        self.guess = servers[rng.randrange(len(servers))]
        self.session: int | None = None
        self.seq = 0
        self._new_operation = True

    # -- the ClientStub protocol -------------------------------------------------------------

    def envelope(self, op: Op) -> Payload:
        """What this attempt of ``op`` carries: opening the session, or the command."""
        if self.session is None:
            return OpenSession()
        if self._new_operation:
            self.seq += 1
            self._new_operation = False
        return Command(self.session, self.seq, kv_operation(op))

    def route(self, op: Op) -> Address:
        return self.guess

    def interpret(self, op: Op, source: Address, result: Any) -> Completion | Redirect:  # noqa: PLR0911 - one return per reply kind of the client protocol
        if not isinstance(result, Reply):
            return self._elsewhere(source)
        if result.error == "not-leader":
            hint = server_address(result.leader, self.servers) if result.leader else None
            if hint is not None and hint != source:
                self.guess = hint
                return Redirect(hint)
            return self._elsewhere(source)
        if result.error in _RETRY_HERE:
            return Redirect(source, self.retry_delay)
        self.guess = source
        if self.session is None:  # the answer to OpenSession
            if result.outcome == "ok" and isinstance(result.value, int):
                self.session = result.value
                return Redirect(source)
            return self._elsewhere(source)
        return self._complete(op, result)

    def timed_out(self, op: Op, target: Address) -> None:
        self._new_operation = True
        self.guess = self._after(target)

    # -- helpers ------------------------------------------------------------------------------

    def _complete(self, op: Op, reply: Reply) -> Completion:
        self._new_operation = True
        if reply.error == "session-expired":
            self.session = None  # open a new one for the next operation
        if reply.outcome == "ok":
            return Completion("ok", reply.value if op.f == "read" else op.value)
        if reply.outcome == "fail":  # a compare that failed, or a request refused as malformed
            return Completion("fail", op.value)
        return Completion("info", op.value)

    def _elsewhere(self, source: Address) -> Redirect:
        self.guess = self._after(source)
        return Redirect(self.guess, self.retry_delay)

    def _after(self, node: Address) -> Address:
        others = [s for s in self.servers if s != node] or list(self.servers)
        return others[self.rng.randrange(len(others))]
