"""``cases.push_tickle`` (codex 10.1): tickle-and-fetch vs the message in the notification."""

from __future__ import annotations

from dataclasses import dataclass

from archlab.cases.whatsapp.push import PushConfig, PushOutcome, run
from archlab.lab import (
    Column,
    Context,
    Evidence,
    Judgement,
    Outcome,
    Table,
    Threshold,
    experiment,
    holds,
    nuanced,
    refuted,
)

#: "To ensure message ordering and delivery": not one message lost or out of order.
NONE = Threshold(0, "messages", "codex 10.1: the tickle ensures message ordering and delivery")
#: The contrast the claim rests on: with the same provider, payload-in-push must lose or
#: reorder at least one message, or the provider was not lossy enough to show anything.
SOME = Threshold(1, "messages", "a lossy, reordering provider must show in the payload mode")


@dataclass(frozen=True)
class PushRun:
    loss: float
    tickle_lost: int
    tickle_out_of_order: int
    tickle_latency_s: float
    payload_lost: int
    payload_out_of_order: int
    payload_latency_s: float
    notifications_lost: int


@dataclass(frozen=True)
class PushMeasurement:
    messages: int
    mean_delay_s: float
    runs: list[PushRun]


def judge_push_tickle(m: PushMeasurement) -> Judgement:
    tickle_bad = sum(r.tickle_lost + r.tickle_out_of_order for r in m.runs)
    payload_bad = sum(r.payload_lost + r.payload_out_of_order for r in m.runs)
    ev_tickle = Evidence(
        "tickle: messages lost or out of order, all runs", tickle_bad, "messages", at_most=NONE
    )
    ev_payload = Evidence(
        "payload in push: messages lost or out of order, all runs",
        payload_bad,
        "messages",
        at_least=SOME,
    )
    text = "; ".join(
        f"at {r.loss:.0%} loss tickle lost {r.tickle_lost} and reordered {r.tickle_out_of_order} "
        f"of {m.messages}, payload-in-push lost {r.payload_lost} and reordered "
        f"{r.payload_out_of_order}"
        for r in m.runs
    )
    if not ev_tickle.met:
        return refuted(text + ": the tickle did not deliver everything in order", ev_tickle)
    if not ev_payload.met:
        return nuanced(
            text + ": the provider lost and reordered nothing, so nothing to show",
            ev_tickle,
            ev_payload,
        )
    return holds(text, ev_tickle, ev_payload)


@experiment(
    id="cases.push_tickle",
    section="10.1",
    title="WhatsApp: push as a tickle",
    claim="""To ensure message ordering and delivery, WhatsApp's push notification is merely
    a "tickle" that wakes the app, which then connects to the server to fetch the actual
    encrypted payload.""",
    method="""A discrete-event simulation with the chat server's real durable inbox (the
    LSM): a sender sends messages at random intervals to an offline phone; a push provider
    drops each notification with a given probability and delays the rest by an exponential
    time, so notifications overtake each other. Tickle: each notification that arrives makes
    the app fetch (and acknowledge) its pending messages in order, and the user opens the app
    once at the end. Payload-in-push: each notification carries its message, displayed on
    arrival. Same seed, same provider behaviour, for both; a few loss rates.""",
    judge=judge_push_tickle,
    rule="""refuted when the tickle mode loses or reorders any message; holds when it loses
    and reorders none while putting the payload in the notification loses or reorders at
    least one (the provider's faults show); nuanced when neither mode lost or reordered
    anything.""",
    profiles={
        "quick": {"messages": 300, "losses": [0.05, 0.2], "mean_delay": 2.0},
        "full": {"messages": 3000, "losses": [0.01, 0.05, 0.2, 0.5], "mean_delay": 2.0},
    },
    references=[
        "APNs and FCM deliver notifications best-effort: they may be dropped, coalesced or "
        "delayed (docs/references.md §10).",
    ],
)
def push_tickle(ctx: Context) -> Outcome[PushMeasurement]:
    p = ctx.params
    runs: list[PushRun] = []
    losses = [float(x) for x in p["losses"]]
    with ctx.progress.task("loss rates", len(losses)) as task:
        for i, loss in enumerate(losses):
            config = PushConfig(
                messages=int(p["messages"]), loss=loss, mean_delay=float(p["mean_delay"])
            )
            seed = ctx.seed * 100 + i
            tickle = run(config, "tickle", ctx.scratch / f"tickle{i}", seed)
            payload = run(config, "payload", ctx.scratch / f"payload{i}", seed)
            runs.append(_run(loss, tickle, payload))
            task.advance()
    measured = PushMeasurement(int(p["messages"]), float(p["mean_delay"]), runs)
    table = Table(
        f"{p['messages']} messages to an offline phone, notifications delayed "
        f"{p['mean_delay']} s on average",
        [
            Column("provider loss", "%"),
            Column("notifications lost"),
            Column("mode"),
            Column("messages lost"),
            Column("out of order"),
            Column("mean send to display", "s"),
        ],
    )
    for r in runs:
        table.add(
            100 * r.loss,
            r.notifications_lost,
            "tickle + fetch",
            r.tickle_lost,
            r.tickle_out_of_order,
            r.tickle_latency_s,
        )
        table.add(
            100 * r.loss,
            r.notifications_lost,
            "payload in push",
            r.payload_lost,
            r.payload_out_of_order,
            r.payload_latency_s,
        )
    return Outcome(
        measured,
        summary="tickle: "
        + ", ".join(f"{r.tickle_lost}/{r.tickle_out_of_order}" for r in runs)
        + " lost/reordered; payload: "
        + ", ".join(f"{r.payload_lost}/{r.payload_out_of_order}" for r in runs),
        tables=[table],
    )


def _run(loss: float, tickle: PushOutcome, payload: PushOutcome) -> PushRun:
    return PushRun(
        loss=loss,
        tickle_lost=tickle.lost,
        tickle_out_of_order=tickle.out_of_order,
        tickle_latency_s=tickle.mean_latency_s,
        payload_lost=payload.lost,
        payload_out_of_order=payload.out_of_order,
        payload_latency_s=payload.mean_latency_s,
        notifications_lost=payload.notifications_lost,
    )
