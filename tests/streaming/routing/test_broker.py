"""The exchange broker's core (7.2): routing, prefetch, acks, dead-lettering, deletion."""

from __future__ import annotations

import pytest

from archlab.streaming.routing.broker import Broker, BrokerError, Delivery, Message
from archlab.streaming.routing.exchanges import headers_match


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def broker(clock: Clock) -> Broker:
    return Broker(clock)


def drain(broker: Broker, queue: str) -> list[bytes]:
    out = []
    while (d := broker.get(1, queue, auto_ack=True)) is not None:
        out.append(d.message.body)
    return out


def test_each_exchange_type_routes_as_rabbitmq_documents(broker: Broker) -> None:
    for name, kind in [("d", "direct"), ("t", "topic"), ("f", "fanout"), ("h", "headers")]:
        broker.declare_exchange(name, kind)  # type: ignore[arg-type]
    for q in ("q1", "q2", "q3"):
        broker.declare_queue(q)
    broker.bind("q1", "d", "orange")
    broker.bind("q2", "d", "black")
    broker.bind("q3", "d", "black")
    assert broker.publish(Message("d", "black", b"x")) == 2
    assert broker.publish(Message("d", "green", b"x")) == 0
    broker.bind("q1", "t", "*.orange.*")
    broker.bind("q2", "t", "*.*.rabbit")
    broker.bind("q2", "t", "lazy.#")
    assert broker.publish(Message("t", "quick.orange.rabbit", b"x")) == 2
    assert broker.publish(Message("t", "lazy.pink.rabbit", b"x")) == 1  # q2 once, not twice
    assert broker.publish(Message("t", "quick.brown.fox", b"x")) == 0
    broker.bind("q1", "f", "ignored")
    broker.bind("q3", "f")
    assert broker.publish(Message("f", "whatever", b"x")) == 2
    broker.bind("q1", "h", arguments={"x-match": "all", "format": "pdf", "type": "report"})
    broker.bind("q2", "h", arguments={"x-match": "any", "format": "pdf", "type": "log"})
    assert broker.publish(Message("h", "", b"x", {"format": "pdf", "type": "report"})) == 2
    assert broker.publish(Message("h", "", b"x", {"format": "zip", "type": "log"})) == 1
    assert broker.publish(Message("h", "", b"x", {"format": "zip"})) == 0
    # the default exchange routes by queue name
    assert broker.publish(Message("", "q3", b"x")) == 1
    assert broker.publish(Message("", "nope", b"x")) == 0


def test_headers_rules_ignore_x_arguments_and_compare_types() -> None:
    assert headers_match({"x-match": "all", "x-extra": 1}, {})  # nothing left to compare
    assert not headers_match({"x-match": "any", "x-extra": 1}, {"x-extra": 1})
    assert headers_match({"x-match": "any-with-x", "x-extra": 1}, {"x-extra": 1})
    assert headers_match({"a": None}, {"a": "anything"})  # presence only
    assert not headers_match({"a": 1}, {"a": True})
    assert headers_match({"a": 1}, {"a": 1, "b": 2})
    with pytest.raises(ValueError, match="x-match"):
        headers_match({"x-match": "some"}, {})


def test_a_queue_bound_twice_gets_one_copy(broker: Broker) -> None:
    broker.declare_exchange("t", "topic")
    broker.declare_queue("q")
    broker.bind("q", "t", "a.*")
    broker.bind("q", "t", "*.b")
    broker.bind("q", "t", "#")
    assert broker.publish(Message("t", "a.b", b"one")) == 1
    assert drain(broker, "q") == [b"one"]


def test_prefetch_limits_unacked_per_consumer_and_acks_delete(broker: Broker) -> None:
    broker.declare_queue("work")
    broker.consume(1, "work", "c1", prefetch=2)
    broker.consume(2, "work", "c2", prefetch=1)
    for i in range(6):
        broker.publish(Message("", "work", str(i).encode()))
    sent = broker.take_deliveries()
    assert sorted(d.consumer for d in sent) == ["c1", "c1", "c2"]
    assert broker.depth("work") == (3, 3)
    first = next(d for d in sent if d.consumer == "c2")
    broker.ack(2, first.tag)
    again = broker.take_deliveries()
    assert [d.consumer for d in again] == ["c2"]
    assert broker.depth("work") == (2, 3)
    assert broker.stored() == 5  # the acked message is gone


def test_nack_requeue_returns_to_its_place_marked_redelivered(broker: Broker) -> None:
    broker.declare_queue("q")
    for body in (b"a", b"b", b"c"):
        broker.publish(Message("", "q", body))
    got = broker.get(1, "q")
    assert got is not None and got.message.body == b"a" and not got.redelivered
    broker.nack(1, got.tag, requeue=True)
    again = broker.get(1, "q")
    assert again is not None and again.message.body == b"a" and again.redelivered
    with pytest.raises(BrokerError, match="unknown delivery tag"):
        broker.ack(1, got.tag)


def test_multiple_ack_settles_every_earlier_tag(broker: Broker) -> None:
    broker.declare_queue("q")
    for i in range(4):
        broker.publish(Message("", "q", bytes([i])))
    tags = [d.tag for d in (broker.get(1, "q") for _ in range(3)) if d is not None]
    broker.ack(1, tags[1], multiple=True)
    assert broker.depth("q") == (1, 1)


def dead_letter_setup(broker: Broker, **arguments: int | str) -> None:
    broker.declare_exchange("dlx", "fanout")
    broker.declare_queue("dead")
    broker.bind("dead", "dlx")
    broker.declare_queue("q", {"x-dead-letter-exchange": "dlx", **arguments})


def test_reject_without_requeue_dead_letters(broker: Broker) -> None:
    dead_letter_setup(broker)
    broker.publish(Message("", "q", b"bad"))
    got = broker.get(1, "q")
    assert got is not None
    broker.nack(1, got.tag, requeue=False)
    dead = broker.get(1, "dead")
    assert dead is not None and dead.message.body == b"bad"
    assert dead.message.headers["x-first-death-reason"] == "rejected"
    assert dead.message.headers["x-first-death-queue"] == "q"


def test_ttl_expiry_dead_letters_from_the_head(broker: Broker, clock: Clock) -> None:
    dead_letter_setup(broker, **{"x-message-ttl": 1000})
    broker.publish(Message("", "q", b"old"))
    clock.now = 0.5
    broker.publish(Message("", "q", b"new", expiration_s=0.1))
    clock.now = 1.2
    assert broker.expire() == 2
    assert broker.depth("q") == (0, 0)
    dead = [broker.get(1, "dead", auto_ack=True) for _ in range(2)]
    assert [d.message.headers["x-first-death-reason"] for d in dead if d] == ["expired"] * 2


def test_max_length_drops_the_head_into_the_dead_letter_exchange(broker: Broker) -> None:
    dead_letter_setup(broker, **{"x-max-length": 2, "x-dead-letter-routing-key": "overflow"})
    for body in (b"1", b"2", b"3"):
        broker.publish(Message("", "q", body))
    assert drain(broker, "q") == [b"2", b"3"]
    dead = broker.get(1, "dead")
    assert dead is not None and dead.message.body == b"1"
    assert dead.message.routing_key == "overflow"
    assert dead.message.headers["x-first-death-reason"] == "maxlen"


def test_an_expiry_cycle_is_dropped_not_looped(broker: Broker, clock: Clock) -> None:
    broker.declare_exchange("loop", "fanout")
    broker.declare_queue("r", {"x-message-ttl": 10, "x-dead-letter-exchange": "loop"})
    broker.bind("r", "loop")
    broker.publish(Message("", "r", b"m"))
    clock.now = 1.0
    broker.expire()
    assert broker.stored() == 1  # dead-lettered once, back into r
    clock.now = 2.0
    broker.expire()
    assert broker.stored() == 0 and broker.queues["r"].stats.dropped == 1


def test_closing_a_session_requeues_its_unacked(broker: Broker) -> None:
    broker.declare_queue("q")
    broker.consume(7, "q", "c", prefetch=10)
    broker.publish(Message("", "q", b"m"))
    assert len(broker.take_deliveries()) == 1
    broker.consume(8, "q", "other")
    broker.close_session(7)
    (redelivered,) = broker.take_deliveries()
    assert isinstance(redelivered, Delivery)
    assert redelivered.consumer == "other" and redelivered.redelivered


def test_refusals_carry_amqp_codes(broker: Broker) -> None:
    with pytest.raises(BrokerError) as e:
        broker.publish(Message("missing", "k", b""))
    assert e.value.code == 404
    broker.declare_exchange("x", "topic")
    with pytest.raises(BrokerError) as e:
        broker.declare_exchange("x", "fanout")
    assert e.value.code == 406
    with pytest.raises(BrokerError):
        broker.declare_queue("q", {"x-unknown": 1})
    broker.declare_queue("q")
    broker.declare_exchange("h", "headers")
    with pytest.raises(BrokerError, match="x-match"):
        broker.bind("q", "h", arguments={"x-match": "most"})
