"""Random sequences of broker operations keep RabbitMQ's accounting and prefetch promises.

Every message that reached a queue is, at every moment, in exactly one place: ready, out to a
consumer unacknowledged, acknowledged (deleted), dead-lettered or dropped. No consumer ever holds
more unacknowledged messages than its prefetch, and no delivery tag is outstanding twice.
"""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from archlab.streaming.routing.broker import Broker, BrokerError, Message

QUEUES = ("a", "b", "dead")


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def setup() -> tuple[Broker, Clock]:
    clock = Clock()
    broker = Broker(clock)
    broker.declare_exchange("x", "topic")
    broker.declare_exchange("dlx", "fanout")
    broker.declare_queue("dead")
    broker.bind("dead", "dlx")
    broker.declare_queue(
        "a", {"x-dead-letter-exchange": "dlx", "x-max-length": 6, "x-message-ttl": 3000}
    )
    broker.declare_queue("b", {"x-dead-letter-exchange": "dlx"})
    broker.bind("a", "x", "k.*")
    broker.bind("a", "x", "#")  # two bindings: still one copy
    broker.bind("b", "x", "k.#")
    return broker, clock


def check(broker: Broker, prefetch: dict[tuple[int, str], int]) -> None:
    for queue in broker.queues.values():
        s = queue.stats
        held = len(queue.ready) + queue.unacked
        assert s.enqueued == s.acked + s.dead_lettered + s.dropped + held, queue.name
    for key, consumer in broker._consumers.items():
        if prefetch[key]:
            assert consumer.unacked <= prefetch[key]
    for session in broker._sessions.values():
        assert len(session.outstanding) == len(set(session.outstanding))


operations = st.lists(
    st.tuples(
        st.sampled_from(["publish", "consume", "ack", "nack", "requeue", "get", "tick", "close"]),
        st.integers(0, 3),
        st.sampled_from(["k.one", "k.two.three", "other"]),
    ),
    max_size=60,
)


@settings(max_examples=120, deadline=None)
@given(operations)
def test_every_message_is_in_exactly_one_place(  # noqa: PLR0912 - a branch per operation
    ops: list[tuple[str, int, str]],
) -> None:
    broker, clock = setup()
    prefetch: dict[tuple[int, str], int] = {}
    held: dict[int, list[int]] = {}  # session -> outstanding tags it knows of
    consumers = 0
    for op, n, key in ops:
        session = n % 2 + 1
        if op == "publish":
            broker.publish(Message("x", key, b"m"))
        elif op == "consume":
            consumers += 1
            tag = f"c{consumers}"
            queue = QUEUES[n % 3]
            prefetch[(session, tag)] = n
            broker.consume(session, queue, tag, prefetch=n)
        elif op in ("ack", "nack", "requeue") and held.get(session):
            tag = held[session].pop(n % len(held[session]))
            if op == "ack":
                broker.ack(session, tag)
            else:
                broker.nack(session, tag, requeue=op == "requeue")
        elif op == "get":
            got = broker.get(session, QUEUES[n % 3])
            if got is not None:
                held.setdefault(session, []).append(got.tag)
        elif op == "tick":
            clock.now += n * 1.5
            broker.expire()
        elif op == "close":
            broker.close_session(session)
            held.pop(session, None)
            prefetch = {k: v for k, v in prefetch.items() if k[0] != session}
        for d in broker.take_deliveries():
            held.setdefault(d.session, []).append(d.tag)
        check(broker, prefetch)
    # whatever is left over: every tag a session holds is one it can settle, once
    for session, tags in held.items():
        for tag in tags:
            broker.ack(session, tag)
            try:
                broker.ack(session, tag)
            except BrokerError as e:
                assert e.code == 406
            else:
                raise AssertionError("a delivery tag was settled twice")
    check(broker, prefetch)


class IgnoresPrefetch(Broker):
    """A deliberately broken broker: hands messages to the first consumer whatever it holds."""

    def _next_consumer(self, queue):  # type: ignore[no-untyped-def]
        return self._consumers[queue.consumers[0]] if queue.consumers else None


def test_the_invariant_catches_a_broker_that_ignores_prefetch() -> None:
    broker = IgnoresPrefetch(Clock())
    broker.declare_queue("q")
    broker.consume(1, "q", "c", prefetch=2)
    for _ in range(5):
        broker.publish(Message("", "q", b"m"))
    try:
        check(broker, {(1, "c"): 2})
    except AssertionError:
        return
    raise AssertionError("the prefetch check missed a consumer holding 5 with prefetch 2")
