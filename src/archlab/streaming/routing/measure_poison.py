"""Poison messages on a work queue, with and without a dead-letter path (codex 7.2).

A *poison* message is one its consumer can never process: every delivery fails. On a queue
without a dead-letter exchange the consumer has two bad choices, and :func:`run_policy` plays
each on archlab's RabbitMQ-model broker (:mod:`archlab.streaming.routing.broker`) with one
consumer at prefetch 1:

* ``requeue``: reject with requeue. RabbitMQ puts the message back at its original place, so
  it is delivered again at once, ahead of everything behind it: the queue stalls.
* ``drop``: reject without requeue. The queue moves on and the message is gone.
* ``dead-letter``: the queue names a dead-letter exchange; the consumer retries a message up
  to ``attempts`` deliveries, then rejects it without requeue, and the broker routes it to a
  dead-letter queue where it waits for a person.

Each run has a budget of deliveries (a stalled queue never ends on its own); the counts are
good messages processed, poison messages kept (in the dead-letter queue) or lost, and
deliveries spent on poison. The judge is :func:`judge_poison`.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from archlab.lab import Evidence, Judgement, Threshold, holds, nuanced, refuted
from archlab.streaming.routing.broker import Broker, Message

POLICIES = ("requeue", "drop", "dead-letter")
SESSION = 1

#: A dead-letter path exists so that nothing is lost and nothing blocks: definitional.
NOTHING_LOST = Threshold(
    0,
    "messages",
    "definition: a dead-lettered message is kept in the dead-letter queue "
    "(RabbitMQ's dead-letter exchanges, docs/references.md §7.2)",
)
ALL_PROCESSED = Threshold(
    1.0,
    "of the good messages",
    "definition: with the poison moved aside, every good message reaches the consumer",
)
#: A requeued message goes back to its original place (RabbitMQ), so with prefetch 1 it is
#: delivered again before anything behind it; half the good messages is a generous bound.
STALLED = Threshold(
    0.5,
    "of the good messages",
    "RabbitMQ requeues a rejected message at its original position (docs/references.md §7.2): "
    "a poison message near the head is redelivered before the rest; 0.5 is a generous bound",
)


@dataclass(frozen=True)
class PolicyRun:
    good_processed: int
    poison_kept: int  # in the dead-letter queue
    poison_lost: int  # neither processed, nor queued, nor dead-lettered
    poison_deliveries: int
    deliveries: int


@dataclass(frozen=True)
class PoisonMeasurement:
    good: int
    poison: int
    budget: int  # deliveries allowed per run
    attempts: int  # deliveries of one message before the dead-letter policy gives up
    requeue: PolicyRun
    drop: PolicyRun
    dead_letter: PolicyRun


def run_policy(
    policy: str, *, good: int, poison: int, budget: int, attempts: int, rng: Random
) -> PolicyRun:
    """One work queue, one consumer at prefetch 1, ``poison`` messages among ``good`` ones."""
    broker = Broker(clock=lambda: 0.0)
    broker.declare_exchange("work", "direct")
    arguments = {}
    if policy == "dead-letter":
        broker.declare_exchange("dead-letters", "fanout")
        broker.declare_queue("parked")
        broker.bind("parked", "dead-letters")
        arguments = {"x-dead-letter-exchange": "dead-letters"}
    broker.declare_queue("jobs", arguments)
    broker.bind("jobs", "work", "job")
    bodies = [b"good-%d" % i for i in range(good)] + [b"poison-%d" % i for i in range(poison)]
    rng.shuffle(bodies)
    for body in bodies:
        broker.publish(Message("work", "job", body))
    broker.consume(SESSION, "jobs", "worker", prefetch=1)
    processed: set[bytes] = set()
    tries: dict[bytes, int] = {}
    deliveries = poison_deliveries = 0
    while deliveries < budget:
        batch = broker.take_deliveries()
        if not batch:
            break
        for delivery in batch:
            deliveries += 1
            body = delivery.message.body
            if not body.startswith(b"poison"):
                processed.add(body)
                broker.ack(SESSION, delivery.tag)
                continue
            poison_deliveries += 1
            tries[body] = tries.get(body, 0) + 1
            give_up = policy == "drop" or (policy == "dead-letter" and tries[body] >= attempts)
            broker.nack(SESSION, delivery.tag, requeue=not give_up)
    broker.cancel(SESSION, "worker")  # what it still held goes back to the queue
    kept = broker.depth("parked")[0] if policy == "dead-letter" else 0
    waiting = sum(1 for e in broker.queues["jobs"].ready if e.message.body.startswith(b"poison"))
    return PolicyRun(
        good_processed=len(processed),
        poison_kept=kept,
        poison_lost=poison - kept - waiting,
        poison_deliveries=poison_deliveries,
        deliveries=deliveries,
    )


def judge_poison(m: PoisonMeasurement) -> Judgement:
    dlx = m.dead_letter
    kept = Evidence(
        "poison messages lost with a dead-letter path", dlx.poison_lost, "messages",
        at_most=NOTHING_LOST,
    )  # fmt: skip
    flowed = Evidence(
        "good messages processed with a dead-letter path",
        round(dlx.good_processed / m.good, 3),
        "",
        at_least=ALL_PROCESSED,
    )
    stalled = Evidence(
        "good messages processed when poison is requeued",
        round(m.requeue.good_processed / m.good, 3),
        "",
        at_most=STALLED,
    )
    lost = Evidence("poison messages lost when rejected without a dead-letter path",
                    m.drop.poison_lost, "messages")  # fmt: skip
    text = (
        f"with {m.poison} poison messages among {m.good}: requeueing processed "
        f"{m.requeue.good_processed} good messages in {m.budget} deliveries, "
        f"{m.requeue.poison_deliveries} of them spent on poison; rejecting without requeue "
        f"processed {m.drop.good_processed} and lost {m.drop.poison_lost} poison messages; the "
        f"dead-letter path processed {dlx.good_processed} and kept {dlx.poison_kept} after "
        f"{m.attempts} attempts each"
    )
    if not (kept.met and flowed.met):
        return refuted(text + ": the dead-letter path did not do its job", kept, flowed, stalled)
    if stalled.met and m.drop.poison_lost == m.poison:
        return holds(text, kept, flowed, stalled, lost)
    return nuanced(
        text + ": without a dead-letter path the queue did not stall, or nothing was lost",
        kept, flowed, stalled, lost,
    )  # fmt: skip
