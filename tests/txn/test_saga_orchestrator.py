"""The orchestrator as a durable state machine: order, retries, compensation, resumption."""

from __future__ import annotations

from collections.abc import Sequence

from archlab.sim.disk import Disk
from archlab.sim.process import Effect, Op, Reply, Request, Send, Sync
from archlab.txn.saga.messages import Accepted, Action, ActionResult, SagaOutcome
from archlab.txn.saga.orchestrator import Orchestrator, OrchestratorConfig, SagaStep

STEPS = [
    SagaStep("bank0", "debit", "a", 10),
    SagaStep("bank1", "credit", "b", 10),
    SagaStep("ledger", "debit", "allowance:a", 10),
]


def orchestrator(disk: Disk | None = None, incarnation: int = 0, **config: object) -> Orchestrator:
    return Orchestrator(
        "o",
        incarnation,
        disk or Disk(),
        lambda op: list(STEPS),
        OrchestratorConfig(**config),  # type: ignore[arg-type]
    )


def action(effects: Sequence[Effect]) -> Action:
    (send,) = [e for e in effects if isinstance(e, Send)]
    assert isinstance(send.message, Action)
    return send.message


def reply(effects: Sequence[Effect]) -> object:
    (r,) = [e for e in effects if isinstance(e, Reply)]
    return r.result


REQUEST = Request(1, "client", Op("transfer", None, ("a", "b", 10)))


def test_the_begin_record_is_durable_before_the_first_step_leaves() -> None:
    effects = orchestrator().begin(0.0, REQUEST)
    assert isinstance(effects[0], Sync)
    assert action(effects) == Action("o.0.1/0", "debit", "a", 10)


def test_a_later_step_that_fails_is_compensated_in_reverse_order() -> None:
    o = orchestrator()
    a = action(o.begin(0.0, REQUEST))
    b = action(o.on_result(0.0, "bank0", ActionResult(a.key, True)))
    c = action(o.on_result(0.0, "bank1", ActionResult(b.key, True)))
    assert c.key == "o.0.1/2"
    undo_b = action(o.on_result(0.0, "ledger", ActionResult(c.key, False, "over the limit")))
    assert (undo_b.kind, undo_b.of) == ("undo", b.key)
    undo_a = action(o.on_result(0.0, "bank1", ActionResult(undo_b.key, True)))
    assert (undo_a.kind, undo_a.of) == ("undo", a.key)
    end = o.on_result(0.0, "bank0", ActionResult(undo_a.key, True))
    outcome = reply(end)
    assert isinstance(outcome, SagaOutcome) and outcome.outcome == "compensated"
    assert outcome.reason == "over the limit"


def test_retries_reuse_the_idempotency_key_with_backoff() -> None:
    o = orchestrator(retry=0.05, max_retry=0.2)
    first = o.begin(0.0, REQUEST)
    key = action(first).key
    delays = []
    for _ in range(4):
        effects = o.on_timer(1.0, ("saga", "o.0.1"))
        assert action(effects).key == key
        delays += [e.delay for e in effects if hasattr(e, "delay")]
    assert delays == [0.1, 0.2, 0.2, 0.2]
    assert not o.on_result(1.0, "bank0", ActionResult("o.0.1/1", True))  # a stray answer


def test_a_step_given_up_is_compensated_too() -> None:
    o = orchestrator(max_attempts=2)
    a = action(o.begin(0.0, REQUEST))
    b = action(o.on_result(0.0, "bank0", ActionResult(a.key, True)))
    o.on_timer(0.1, ("saga", "o.0.1"))  # second attempt
    undo = action(o.on_timer(0.2, ("saga", "o.0.1")))  # given up: it may have applied
    assert (undo.kind, undo.of) == ("undo", b.key)


def test_a_crashed_orchestrator_resumes_where_the_log_says() -> None:
    disk = Disk()
    o = orchestrator(disk)
    a = action(o.begin(0.0, REQUEST))
    b = action(o.on_result(0.0, "bank0", ActionResult(a.key, True)))
    disk.fsync()
    disk.crash()
    again = orchestrator(disk, incarnation=1)
    resumed = action(again.recover(1.0))
    assert resumed == b  # the same step, the same key: the bank answers it once
    c = action(again.on_result(1.0, "bank1", ActionResult(b.key, True)))
    end = again.on_result(1.0, "ledger", ActionResult(c.key, True))
    assert any(isinstance(e, Sync) for e in end) and again.outcomes["o.0.1"] == "committed"
    assert orchestrator(disk, incarnation=2).recover(2.0) == []


def test_an_asynchronous_saga_answers_once_it_is_durably_begun() -> None:
    effects = orchestrator(reply_on_accept=True).begin(0.0, REQUEST)
    assert isinstance(effects[0], Sync) and isinstance(reply(effects), Accepted)
