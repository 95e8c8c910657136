"""A saga orchestrator: a durable state machine over local transactions (codex 6.1).

For each client request the orchestrator plans a list of :class:`SagaStep` s (``plan``) and
drives them one at a time. Its log is the saga's memory; every record is synced before the
next message leaves (persist before send), so a crash loses nothing and
:meth:`Orchestrator.recover` resumes every unfinished saga where it stood.

States of one saga, and the records that move it::

    begin ─▶ step 0 ─done▶ step 1 ─done▶ … ─done▶ end(committed)
                │ refused/given up     │
                ▼                      ▼
            compensate k-1 ─undone▶ … ─undone▶ compensate 0 ─undone▶ end(compensated)

- A step is sent as an :class:`~archlab.txn.saga.messages.Action` with the idempotency key
  ``<saga>/<step>``; with no answer it is resent with the *same* key after ``retry`` seconds,
  the delay doubling up to ``max_retry``. The service applies a key once, so retries never
  apply twice.
- A refusal (insufficient funds, a closed account, a limit) fails the saga at that step:
  the steps done so far are compensated **in reverse order**, each ``undo`` with its own key
  ``<saga>/<step>/undo``, retried until it succeeds (compensations must not fail).
- After ``max_attempts`` unanswered tries the step is given up; it may or may not have been
  applied, so it is compensated too (its undo leaves a tombstone if it never arrived).

The client hears the end (committed: ``ok``; compensated: ``fail``), or, with
``reply_on_accept``, hears as soon as the saga is durably begun: the asynchronous API that
keeps a saga available while a service is unreachable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from archlab.sim.disk import Disk
from archlab.sim.process import Address, Effect, Note, Op, Reply, Request, Send, SetTimer, Sync
from archlab.sim.records import RecordLog, decode, encode
from archlab.txn.saga.messages import (
    Accepted,
    Action,
    ActionKind,
    ActionResult,
    Rejected,
    SagaOutcome,
)

LOG_FILE = "saga.log"
Direction = Literal["forward", "backward"]


@dataclass(frozen=True, slots=True)
class SagaStep:
    """One local transaction of a saga: ``kind`` on ``account`` at ``service``."""

    service: Address
    kind: ActionKind
    account: str
    amount: int


Plan = Callable[[Op], list[SagaStep]]


@dataclass(frozen=True)
class OrchestratorConfig:
    retry: float = 0.05
    max_retry: float = 0.4
    max_attempts: int = 8
    reply_on_accept: bool = False


@dataclass
class Saga:
    id: str
    steps: list[SagaStep]
    request: Request | None = None
    direction: Direction = "forward"
    index: int = 0
    attempts: int = 0
    delay: float = 0.0
    reason: str = ""
    #: Steps applied (or given up on) and not yet compensated.
    done: list[int] = field(default_factory=list)

    def action(self) -> Action:
        step = self.steps[self.index]
        key = f"{self.id}/{self.index}"
        if self.direction == "forward":
            return Action(key, step.kind, step.account, step.amount)
        return Action(f"{key}/undo", "undo", step.account, step.amount, of=key)


@dataclass
class OrchestratorStats:
    begun: int = 0
    committed: int = 0
    compensated: int = 0
    retries: int = 0
    given_up: int = 0
    resumed: int = 0


class Orchestrator:
    """Runs sagas (see the module docstring); every method returns the effects to execute."""

    def __init__(
        self,
        address: Address,
        incarnation: int,
        disk: Disk,
        plan: Plan,
        config: OrchestratorConfig | None = None,
    ) -> None:
        self.me = address
        self.incarnation = incarnation
        self.plan = plan
        self.config = config or OrchestratorConfig()
        self.log = RecordLog.open(disk, LOG_FILE)
        self.sagas: dict[str, Saga] = {}
        self.outcomes: dict[str, str] = {}
        self.seq = 0
        self.stats = OrchestratorStats()

    # -- recovery -----------------------------------------------------------------------

    def recover(self, now: float) -> list[Effect]:  # noqa: PLR0912 - the orchestrator's recovery: one branch per saga state in its durable log
        """Replay the log and resume every saga that had not ended."""
        for payload in self.log.records:
            record = decode(payload)
            saga_id, kind = record["saga"], record["t"]
            if kind == "begin":
                steps = [SagaStep(s[0], s[1], s[2], int(s[3])) for s in record["steps"]]
                self.sagas[saga_id] = Saga(saga_id, steps)
                continue
            saga = self.sagas.get(saga_id)
            if saga is None:
                continue
            if kind == "done":
                saga.done.append(int(record["step"]))
                saga.index = int(record["step"]) + 1
            elif kind == "failed":
                saga.direction, saga.reason = "backward", record["reason"]
                if record["uncertain"]:
                    saga.done.append(int(record["step"]))
            elif kind == "undone":
                saga.done.remove(int(record["step"]))
            elif kind == "end":
                self.outcomes[saga_id] = record["outcome"]
                del self.sagas[saga_id]
        effects: list[Effect] = []
        for saga in list(self.sagas.values()):  # _end removes finished ones as it goes
            self.stats.resumed += 1
            if saga.direction == "backward":
                if not saga.done:
                    effects += self._end(saga, "compensated")
                    continue
                saga.index = saga.done[-1]
            elif saga.index >= len(saga.steps):
                effects += self._end(saga, "committed")
                continue
            effects += self._send(saga, fresh=True)
        if self.sagas:
            effects.append(Note(f"resumed {len(self.sagas)} saga(s)"))
        return effects

    # -- starting -----------------------------------------------------------------------

    def begin(self, now: float, request: Request) -> list[Effect]:
        try:
            steps = self.plan(request.op)
        except ValueError as exc:
            return [Reply(request, Rejected(str(exc)))]
        self.seq += 1
        saga = Saga(f"{self.me}.{self.incarnation}.{self.seq}", steps, request)
        self.sagas[saga.id] = saga
        self.stats.begun += 1
        self._write(
            {
                "t": "begin",
                "saga": saga.id,
                "steps": [[s.service, s.kind, s.account, s.amount] for s in steps],
            }
        )
        effects: list[Effect] = [Sync()]
        if self.config.reply_on_accept:
            effects.append(Reply(request, Accepted(saga.id)))
            saga.request = None
        return effects + self._send(saga, fresh=True)

    # -- progress -----------------------------------------------------------------------

    def on_result(self, now: float, src: Address, result: ActionResult) -> list[Effect]:
        saga_id = result.key.split("/", 1)[0]
        saga = self.sagas.get(saga_id)
        if saga is None or result.key != saga.action().key:
            return []  # a late answer to an attempt already settled
        if saga.direction == "backward":
            step = saga.index
            saga.done.remove(step)
            self._write({"t": "undone", "saga": saga.id, "step": step})
            if not saga.done:
                return [Sync(), *self._end(saga, "compensated")]
            saga.index = saga.done[-1]
            return [Sync(), *self._send(saga, fresh=True)]
        if result.ok:
            saga.done.append(saga.index)
            self._write({"t": "done", "saga": saga.id, "step": saga.index})
            saga.index += 1
            if saga.index == len(saga.steps):
                return [Sync(), *self._end(saga, "committed")]
            return [Sync(), *self._send(saga, fresh=True)]
        return self._fail(saga, result.reason, uncertain=False)

    def _fail(self, saga: Saga, reason: str, *, uncertain: bool) -> list[Effect]:
        """Step ``saga.index`` failed: compensate what was done, newest first."""
        saga.direction, saga.reason = "backward", reason
        if uncertain:
            saga.done.append(saga.index)
        self._write(
            {
                "t": "failed",
                "saga": saga.id,
                "step": saga.index,
                "reason": reason,
                "uncertain": uncertain,
            }
        )
        if not saga.done:
            return [Sync(), *self._end(saga, "compensated")]
        saga.index = saga.done[-1]
        return [Sync(), *self._send(saga, fresh=True)]

    def _end(self, saga: Saga, outcome: Literal["committed", "compensated"]) -> list[Effect]:
        self._write({"t": "end", "saga": saga.id, "outcome": outcome})
        del self.sagas[saga.id]
        self.outcomes[saga.id] = outcome
        if outcome == "committed":
            self.stats.committed += 1
        else:
            self.stats.compensated += 1
        effects: list[Effect] = [Sync(), Note(f"saga {saga.id} {outcome}")]
        if saga.request is not None:
            effects.append(Reply(saga.request, SagaOutcome(saga.id, outcome, saga.reason)))
        return effects

    def _send(self, saga: Saga, *, fresh: bool) -> list[Effect]:
        if fresh:
            saga.attempts, saga.delay = 0, self.config.retry
        saga.attempts += 1
        step = saga.steps[saga.index]
        return [
            Send(step.service, saga.action()),
            SetTimer(("saga", saga.id), saga.delay),
        ]

    def on_timer(self, now: float, key: tuple[str, str]) -> list[Effect]:
        saga = self.sagas.get(key[1])
        if saga is None:
            return []
        if saga.direction == "forward" and saga.attempts >= self.config.max_attempts:
            self.stats.given_up += 1
            return self._fail(saga, f"no answer after {saga.attempts} attempts", uncertain=True)
        self.stats.retries += 1
        saga.delay = min(2 * saga.delay, self.config.max_retry)
        return self._send(saga, fresh=False)

    def _write(self, record: dict[str, object]) -> None:
        self.log.append(encode(record))
