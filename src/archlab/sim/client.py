"""Simulated clients: concurrent processes that issue operations and record a history.

Each :class:`Client` is one history process. It takes its next operation from the run's
shared :class:`~archlab.sim.workload.OpBudget`, records the invocation, sends a
:class:`~archlab.sim.process.Request` to the node its :class:`ClientStub` chooses and waits:

- the stub reads each reply as a :class:`Completion` (``ok`` with the result, ``fail``: it
  certainly did not take effect, or ``info``: the server itself cannot say) or a
  :class:`Redirect` (ask another node, e.g. "I am not the leader, try n2"), which it follows
  until the deadline;
- a stub may also wrap each attempt: if it has an ``envelope(op)`` method, its result travels
  in :attr:`Request.envelope <archlab.sim.process.Request.envelope>` (a consensus client's
  session and sequence number, say), asked afresh for every attempt of the operation;
- no completion within ``timeout`` seconds: the operation is recorded as ``info`` (it may or
  may not have taken effect), as Jepsen does, a late reply is ignored, and the stub is told
  (:meth:`ClientStub.timed_out`), so it can try another node next time.

Then it thinks for a moment and takes the next operation. The stub is the protocol-specific
part (how to find the leader, what a reply means); it is sans-IO like the nodes. Clients run
on the simulation's true time, never crash and are not partitioned (the nemesis faults the
servers), so the history's timestamps are true time.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from archlab.check.history import Recorder
from archlab.sim.kernel import Simulation, Timer
from archlab.sim.latency import Distribution, Uniform
from archlab.sim.network import Network
from archlab.sim.process import Address, Op, Request, Response
from archlab.sim.workload import OpBudget


@dataclass(frozen=True, slots=True)
class Completion:
    """The operation is over: ``ok`` with ``value``, ``fail`` (it did not take effect) or
    ``info`` (the server answered but cannot tell whether it took effect)."""

    status: Literal["ok", "fail", "info"]
    value: Any = None


@dataclass(frozen=True, slots=True)
class Redirect:
    """Try again at ``to`` (None: wherever :meth:`ClientStub.route` says) after ``delay``."""

    to: Address | None = None
    delay: float = 0.0


class ClientStub(Protocol):
    """The protocol-specific half of a client (see the module docstring)."""

    def route(self, op: Op) -> Address:
        """The node to send ``op`` to."""
        ...

    def interpret(self, op: Op, source: Address, result: Any) -> Completion | Redirect:
        """What the reply ``result`` from ``source`` means for ``op``."""
        ...

    def timed_out(self, op: Op, target: Address) -> None:
        """``op``, last sent to ``target``, got no answer in time (e.g. try another node next)."""
        ...


StubFactory = Callable[[tuple[Address, ...], random.Random], ClientStub]


class Client:
    """One history process (see the module docstring)."""

    def __init__(
        self,
        sim: Simulation,
        network: Network,
        address: Address,
        process: int,
        stub: ClientStub,
        budget: OpBudget,
        recorder: Recorder,
        *,
        timeout: float = 1.0,
        think: Distribution | None = None,
    ) -> None:
        self.sim = sim
        self.network = network
        self.address = address
        self.process = process
        self.stub = stub
        self.budget = budget
        self.recorder = recorder
        self.timeout = timeout
        self.think = think if think is not None else Uniform(0.0, 0.01)
        self.rng = sim.rng(f"client.{process}")
        self.done = False
        self.completed = {"ok": 0, "fail": 0, "info": 0}
        self._op: Op | None = None
        self._request_id = 0
        self._deadline: Timer | None = None
        self._target: Address = ""
        #: The stub's optional ``envelope(op)`` hook (see the module docstring).
        self._envelope: Callable[[Op], Any] | None = getattr(stub, "envelope", None)
        network.attach(address, self.deliver)

    def start(self, delay: float = 0.0) -> None:
        self.sim.after(delay, self._next)

    def _next(self) -> None:
        op = self.budget.take(self.rng, self.process)
        if op is None:
            self.done = True
            return
        self._op = op
        self.recorder.invoke(self.process, op.f, op.value, op.key, time=self.sim.now)
        self._deadline = self.sim.timer(self.timeout, self._expire, op)
        self._send(self.stub.route(op))

    def _send(self, target: Address) -> None:
        op = self._op
        if op is None:
            return
        self._target = target
        self._request_id += 1
        envelope = self._envelope(op) if self._envelope is not None else None
        request = Request(self._request_id, self.address, op, envelope)
        self.network.send(self.address, target, request)

    def _retry(self, op: Op, target: Address | None) -> None:
        if self._op is op:
            self._send(target if target is not None else self.stub.route(op))

    def deliver(self, src: Address, message: Any) -> None:
        op = self._op
        if op is None or type(message) is not Response or message.request_id != self._request_id:
            return  # a late or duplicated reply to an operation already over
        decision = self.stub.interpret(op, src, message.result)
        if isinstance(decision, Redirect):
            self._request_id += 1  # replies to the abandoned attempt are now stale
            self.sim.after(decision.delay, self._retry, op, decision.to)
            return
        self._finish(decision.status, decision.value)

    def _expire(self, op: Op) -> None:
        if self._op is op:
            self.stub.timed_out(op, self._target)
            self._finish("info", None)

    def _finish(self, status: Literal["ok", "fail", "info"], value: Any) -> None:
        op = self._op
        assert op is not None
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        recorded = op.value if status == "info" else value
        self.recorder.complete(self.process, status, op.f, recorded, op.key, time=self.sim.now)
        self.completed[status] += 1
        self._op = None
        self.sim.after(self.think.sample(self.rng), self._next)
