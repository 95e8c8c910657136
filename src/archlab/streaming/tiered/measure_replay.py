"""``streaming.replay_vs_delete`` (7.2): a log keeps what was consumed; an exchange deletes it.

The same messages go to both models and are consumed and acknowledged by one consumer. Then a
*new* reader arrives: on the log (a topic of the Pulsar-model cluster, a log with cursors) a
new subscription starts at the earliest retained message, and existing subscriptions are moved
(``seek``) to random positions; on the exchange broker a new queue is bound to the same exchange
and the broker's stored messages are counted. Everything is counted, nothing assumed: how many
messages the broker still holds after the acknowledgements, how many the new reader receives,
and whether each seek returns exactly the suffix after its position.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from random import Random

from archlab.lab import Evidence, Judgement, Threshold, holds, nuanced, refuted
from archlab.streaming.routing.broker import Broker, Message
from archlab.streaming.tiered.cluster import TieredCluster, TieredConfig
from archlab.streaming.tiered.objectstore import LocalDirectoryStore

#: Codex 7.2: RabbitMQ "deletes messages once acknowledged": a new queue can replay nothing.
EXCHANGE_REPLAY = Threshold(0.0, "", "codex 7.2: RabbitMQ deletes messages once acknowledged")
#: Codex 7.2: Kafka "is optimized for replayability": every retained message can be re-read.
LOG_REPLAY = Threshold(1.0, "", "codex 7.2: the log is kept for replay; all retained messages")


@dataclass(frozen=True)
class ReplayMeasurement:
    messages: int
    exchange_stored_after_ack: int
    exchange_replayed: int  # messages a queue bound after consumption receives
    log_retained: int  # messages the topic still holds after consumption
    log_replayed: int  # messages a new subscription from the earliest position receives
    seeks: int
    seeks_exact: int  # seeks that returned exactly the suffix after the position
    exchange_replay_fraction: float
    log_replay_fraction: float


def judge_replay(m: ReplayMeasurement) -> Judgement:
    exchange = Evidence(
        "exchange: fraction a new queue replays",
        m.exchange_replay_fraction,
        "",
        at_most=EXCHANGE_REPLAY,
    )
    log = Evidence(
        "log: fraction a new subscription replays", m.log_replay_fraction, "", at_least=LOG_REPLAY
    )
    seeks = Evidence("seeks returning exactly the suffix", m.seeks_exact, f"of {m.seeks}")
    text = (
        f"after {m.messages} messages were consumed and acknowledged, the exchange broker held "
        f"{m.exchange_stored_after_ack} and a new queue received {m.exchange_replayed}; the "
        f"log held {m.log_retained}, a new subscription replayed {m.log_replayed}, and "
        f"{m.seeks_exact} of {m.seeks} seeks to random positions returned exactly the suffix"
    )
    if not exchange.met or m.log_replay_fraction == 0 or m.seeks_exact < m.seeks:
        return refuted(text, exchange, log, seeks)
    if log.met:
        return holds(text, exchange, log, seeks)
    return nuanced(text + ": the log replays only what its retention kept", exchange, log, seeks)


def measure_replay(
    scratch: Path, messages: int, seeks: int, rng: Random, retain_ledgers: int | None = None
) -> ReplayMeasurement:
    """Run both models; ``retain_ledgers`` (if set) deletes older ledgers, as retention would."""
    bodies = [f"event {i}".encode() for i in range(messages)]
    # the exchange model
    exchange = Broker(lambda: 0.0)
    exchange.declare_exchange("events", "fanout")
    exchange.declare_queue("billing")
    exchange.bind("billing", "events")
    for body in bodies:
        exchange.publish(Message("events", "", body))
    exchange.consume(1, "billing", "worker", prefetch=100)
    while deliveries := exchange.take_deliveries():
        for d in deliveries:
            exchange.ack(d.session, d.tag)
    stored = exchange.stored()
    exchange.declare_queue("audit")
    exchange.bind("audit", "events")
    replayed_exchange = 0
    while exchange.get(2, "audit", auto_ack=True) is not None:
        replayed_exchange += 1
    # the log model
    cluster = TieredCluster(
        scratch / "replay",
        LocalDirectoryStore(scratch / "replay" / "objects"),
        rng,
        lambda: 0.0,
        TieredConfig(ensemble=3, write_quorum=2, ack_quorum=2, max_entries_per_ledger=500),
    )
    for i in range(3):
        cluster.add_bookie(f"bookie{i}")
    broker = cluster.add_broker("broker0")
    broker.acquire("events")
    sent = [broker.publish("events", body) for body in bodies]
    broker.subscribe("events", "billing", "earliest")
    for position, _ in broker.receive("events", "billing", messages):
        broker.ack("events", "billing", position)
    if retain_ledgers is not None:
        record = cluster.topics["events"]
        for ledger_id in record.ledgers[: len(record.ledgers) - retain_ledgers]:
            cluster.bookies.delete_ledger(cluster.ledger(ledger_id))
            record.ledgers.remove(ledger_id)
    retained = len(broker.positions("events"))
    broker.subscribe("events", "audit", "earliest")
    replayed_log = [data for _, data in broker.receive("events", "audit", messages)]
    exact = 0
    first_retained = messages - retained  # retention drops the oldest ledgers first
    for _ in range(seeks if retained else 0):
        k = rng.randrange(first_retained, messages)
        broker.seek("events", "audit", sent[k])
        got = [data for _, data in broker.receive("events", "audit", messages)]
        exact += got == bodies[k + 1 :]
    return ReplayMeasurement(
        messages=messages,
        exchange_stored_after_ack=stored,
        exchange_replayed=replayed_exchange,
        log_retained=retained,
        log_replayed=len(replayed_log),
        seeks=seeks,
        seeks_exact=exact,
        exchange_replay_fraction=round(replayed_exchange / messages, 4),
        log_replay_fraction=round(len(replayed_log) / messages, 4),
    )
