"""A RabbitMQ-model broker as a sans-IO core: exchanges, queues, consumers, acks (codex 7.2).

The "smart broker, dumb consumer" of the codex: the broker decides where each message goes
(:mod:`archlab.streaming.routing.exchanges`), pushes it to consumers of the queue in turn while
each has fewer unacknowledged messages than its prefetch, and *deletes it once acknowledged*.

- ``nack``/``reject`` with ``requeue`` puts a message back at its original place in the queue,
  marked redelivered; without ``requeue`` it is dead-lettered if the queue names a
  dead-letter exchange (``x-dead-letter-exchange``, optionally ``x-dead-letter-routing-key``),
  dropped otherwise. Messages are also dead-lettered when they expire (``x-message-ttl`` on the
  queue or a per-message ``expiration``; expired messages leave from the head of the queue, as
  in RabbitMQ's classic queues) and when a queue over ``x-max-length`` drops its head.
  Dead-lettered messages carry ``x-first-death-reason`` / ``-queue`` / ``-exchange`` and an
  ``x-death-count`` header; a message that would cycle back into a queue it already died in,
  for a reason other than rejection, is dropped (RabbitMQ's cycle rule).
- A session (a connection) that closes, or a consumer that is cancelled, hands its
  unacknowledged messages back to their queues.

No sockets, no clock: the host passes a ``clock`` (seconds) and drains :meth:`take_deliveries`.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from archlab.streaming.routing.exchanges import (
    Exchange,
    ExchangeType,
    HeaderValue,
    RoutingError,
    binding,
)
from archlab.streaming.routing.queues import (
    Consumer,
    Delivery,
    Entry,
    Message,
    Queue,
    QueueStats,
    expired,
)

__all__ = ["Broker", "BrokerError", "Delivery", "Message", "Queue", "QueueStats"]

NOT_FOUND = 404
PRECONDITION_FAILED = 406
QUEUE_ARGUMENTS = (
    "x-message-ttl",
    "x-max-length",
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
)


class BrokerError(Exception):
    """What RabbitMQ answers with a channel error: the AMQP reply code and a sentence."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


@dataclass
class _Session:
    next_tag: int = 1
    outstanding: dict[int, tuple[str, Entry, str]] = field(default_factory=dict)


class Broker:
    """Exchanges, queues, sessions and consumers; every operation may produce deliveries."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.exchanges: dict[str, Exchange] = {"": Exchange("", "direct")}
        self.queues: dict[str, Queue] = {}
        self._sessions: dict[int, _Session] = {}
        self._consumers: dict[tuple[int, str], Consumer] = {}
        self._outbox: list[Delivery] = []

    # --- topology -----------------------------------------------------------------------
    def declare_exchange(self, name: str, type: ExchangeType) -> None:
        existing = self.exchanges.get(name)
        if existing is not None:
            if existing.type != type:
                raise BrokerError(
                    PRECONDITION_FAILED,
                    f"exchange {name!r} exists with type {existing.type}, not {type}",
                )
            return
        if not name or name.startswith("amq."):
            raise BrokerError(PRECONDITION_FAILED, f"exchange name {name!r} is reserved")
        try:
            self.exchanges[name] = Exchange(name, type)
        except RoutingError as e:
            raise BrokerError(PRECONDITION_FAILED, str(e)) from None

    def declare_queue(self, name: str, arguments: Mapping[str, HeaderValue] | None = None) -> None:
        args = dict(arguments or {})
        unknown = sorted(set(args) - set(QUEUE_ARGUMENTS))
        if unknown:
            raise BrokerError(PRECONDITION_FAILED, f"queue {name!r}: unknown argument {unknown[0]}")
        if not name:
            raise BrokerError(PRECONDITION_FAILED, "a queue needs a name")
        if name in self.queues:
            return
        ttl, max_len = args.get("x-message-ttl"), args.get("x-max-length")
        for key, value in (("x-message-ttl", ttl), ("x-max-length", max_len)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise BrokerError(PRECONDITION_FAILED, f"queue {name!r}: {key} must be an int ≥ 0")
        dlx, dlrk = args.get("x-dead-letter-exchange"), args.get("x-dead-letter-routing-key")
        self.queues[name] = Queue(
            name,
            message_ttl_s=ttl / 1000 if isinstance(ttl, int) else None,
            max_length=max_len if isinstance(max_len, int) else None,
            dead_letter_exchange=str(dlx) if dlx is not None else None,
            dead_letter_routing_key=str(dlrk) if dlrk is not None else None,
        )

    def delete_queue(self, name: str) -> int:
        """Delete a queue, its bindings and consumers; how many ready messages it held."""
        queue = self._queue(name)
        for exchange in self.exchanges.values():
            exchange.drop_queue(name)
        for key in [k for k, c in self._consumers.items() if c.queue == name]:
            del self._consumers[key]
        for session in self._sessions.values():
            for tag in [t for t, (q, _, _) in session.outstanding.items() if q == name]:
                del session.outstanding[tag]
        del self.queues[name]
        return len(queue.ready)

    def bind(
        self,
        queue: str,
        exchange: str,
        key: str = "",
        arguments: Mapping[str, HeaderValue] | None = None,
    ) -> None:
        self._queue(queue)
        target = self._exchange(exchange)
        if not exchange:
            raise BrokerError(PRECONDITION_FAILED, "the default exchange cannot be bound")
        try:
            target.bind(binding(queue, key, arguments))
        except RoutingError as e:
            raise BrokerError(PRECONDITION_FAILED, str(e)) from None

    def unbind(
        self,
        queue: str,
        exchange: str,
        key: str = "",
        arguments: Mapping[str, HeaderValue] | None = None,
    ) -> None:
        self._exchange(exchange).unbind(binding(queue, key, arguments))

    # --- publishing ---------------------------------------------------------------------
    def publish(self, message: Message) -> int:
        """Route and enqueue ``message``; how many queues it reached (0: unroutable)."""
        self.expire()
        return len(self._route_and_enqueue(message))

    def _route_and_enqueue(self, message: Message) -> list[str]:
        exchange = self._exchange(message.exchange)
        if exchange.name == "":
            targets = {message.routing_key} & set(self.queues)
        else:
            targets = exchange.route(message.routing_key, message.headers)
        for name in sorted(targets):
            self._enqueue(self.queues[name], message)
        for name in sorted(targets):
            self._dispatch(self.queues[name])
        return sorted(targets)

    def _enqueue(self, queue: Queue, message: Message) -> None:
        now = self._clock()
        ttls = [t for t in (queue.message_ttl_s, message.expiration_s) if t is not None]
        expires = now + min(ttls) if ttls else None
        heapq.heappush(queue.ready, Entry(queue.next_seq, message, expires))
        queue.next_seq += 1
        queue.stats.enqueued += 1
        while queue.max_length is not None and len(queue.ready) > queue.max_length:
            self._dead_letter(queue, heapq.heappop(queue.ready), "maxlen")

    # --- consuming ----------------------------------------------------------------------
    def open_session(self, session: int) -> None:
        self._sessions.setdefault(session, _Session())

    def consume(self, session: int, queue: str, consumer_tag: str, prefetch: int = 0) -> None:
        self._queue(queue)
        self.open_session(session)
        if prefetch < 0:
            raise BrokerError(PRECONDITION_FAILED, f"prefetch must be ≥ 0, got {prefetch}")
        if (session, consumer_tag) in self._consumers:
            raise BrokerError(PRECONDITION_FAILED, f"consumer tag {consumer_tag!r} is in use")
        self._consumers[(session, consumer_tag)] = Consumer(consumer_tag, session, queue, prefetch)
        self.queues[queue].consumers.append((session, consumer_tag))
        self._dispatch(self.queues[queue])

    def cancel(self, session: int, consumer_tag: str) -> None:
        consumer = self._consumers.pop((session, consumer_tag), None)
        if consumer is None:
            raise BrokerError(NOT_FOUND, f"no consumer {consumer_tag!r}")
        queue = self.queues[consumer.queue]
        queue.consumers.remove((session, consumer_tag))
        self._requeue_where(session, lambda c: c == consumer_tag)

    def close_session(self, session: int) -> None:
        """The connection went away: cancel its consumers and requeue what it had not acked."""
        for key in [k for k in self._consumers if k[0] == session]:
            consumer = self._consumers.pop(key)
            self.queues[consumer.queue].consumers.remove(key)
        self._requeue_where(session, lambda _c: True)
        self._sessions.pop(session, None)

    def get(self, session: int, queue: str, auto_ack: bool = False) -> Delivery | None:
        """Fetch one message (basic.get); with ``auto_ack`` it is deleted at once."""
        q = self._queue(queue)
        self.open_session(session)
        self.expire()
        if not q.ready:
            return None
        entry = heapq.heappop(q.ready)
        q.stats.delivered += 1
        if auto_ack:
            q.stats.acked += 1
            return Delivery(session, "", 0, queue, entry.message, entry.redelivered)
        return self._hand_out(session, "", q, entry)

    def ack(self, session: int, tag: int, multiple: bool = False) -> None:
        for _queue, _entry in self._settle(session, tag, multiple):
            _queue.stats.acked += 1
            self._dispatch(_queue)

    def nack(self, session: int, tag: int, multiple: bool = False, requeue: bool = True) -> None:
        settled = list(self._settle(session, tag, multiple))
        for queue, entry in reversed(settled):
            if requeue:
                heapq.heappush(queue.ready, replace(entry, redelivered=True))
                queue.stats.requeued += 1
            else:
                self._dead_letter(queue, entry, "rejected")
        for queue in {q.name: q for q, _ in settled}.values():
            self._dispatch(queue)

    def take_deliveries(self) -> list[Delivery]:
        """The deliveries produced since the last call, in order, for the host to send."""
        out, self._outbox = self._outbox, []
        return out

    # --- time ---------------------------------------------------------------------------
    def expire(self) -> int:
        """Dead-letter every expired message at the head of a queue; how many expired."""
        now = self._clock()
        count = 0
        for queue in list(self.queues.values()):
            while queue.ready and expired(queue.ready[0], now):
                self._dead_letter(queue, heapq.heappop(queue.ready), "expired")
                queue.stats.expired += 1
                count += 1
        return count

    # --- accounting ---------------------------------------------------------------------
    def stored(self) -> int:
        """Messages the broker still holds, ready or unacknowledged, in every queue."""
        return sum(len(q.ready) + q.unacked for q in self.queues.values())

    def depth(self, queue: str) -> tuple[int, int]:
        """``(ready, unacked)`` of one queue."""
        q = self._queue(queue)
        return len(q.ready), q.unacked

    # --- internals ----------------------------------------------------------------------
    def _dispatch(self, queue: Queue) -> None:
        now = self._clock()
        while queue.ready and queue.consumers:
            if expired(queue.ready[0], now):
                self._dead_letter(queue, heapq.heappop(queue.ready), "expired")
                queue.stats.expired += 1
                continue
            consumer = self._next_consumer(queue)
            if consumer is None:
                return
            entry = heapq.heappop(queue.ready)
            queue.stats.delivered += 1
            consumer.unacked += 1
            self._outbox.append(self._hand_out(consumer.session, consumer.tag, queue, entry))

    def _next_consumer(self, queue: Queue) -> Consumer | None:
        n = len(queue.consumers)
        for step in range(n):
            index = (queue.turn + step) % n
            consumer = self._consumers[queue.consumers[index]]
            if consumer.prefetch == 0 or consumer.unacked < consumer.prefetch:
                queue.turn = (index + 1) % n
                return consumer
        return None

    def _hand_out(self, session: int, consumer: str, queue: Queue, entry: Entry) -> Delivery:
        state = self._sessions[session]
        tag = state.next_tag
        state.next_tag += 1
        state.outstanding[tag] = (queue.name, entry, consumer)
        queue.unacked += 1
        return Delivery(session, consumer, tag, queue.name, entry.message, entry.redelivered)

    def _settle(self, session: int, tag: int, multiple: bool) -> Iterator[tuple[Queue, Entry]]:
        state = self._sessions.get(session)
        if state is None or tag not in state.outstanding:
            raise BrokerError(PRECONDITION_FAILED, f"unknown delivery tag {tag}")
        tags = sorted(t for t in state.outstanding if t <= tag) if multiple else [tag]
        for t in tags:
            queue_name, entry, consumer_tag = state.outstanding.pop(t)
            queue = self.queues[queue_name]
            queue.unacked -= 1
            consumer = self._consumers.get((session, consumer_tag))
            if consumer is not None:
                consumer.unacked -= 1
            yield queue, entry

    def _requeue_where(self, session: int, which: Callable[[str], bool]) -> None:
        state = self._sessions.get(session)
        if state is None:
            return
        tags = [t for t, (_, _, c) in state.outstanding.items() if which(c)]
        touched: dict[str, Queue] = {}
        for tag in tags:
            queue_name, entry, _ = state.outstanding.pop(tag)
            queue = self.queues[queue_name]
            queue.unacked -= 1
            heapq.heappush(queue.ready, replace(entry, redelivered=True))
            queue.stats.requeued += 1
            touched[queue_name] = queue
        for queue in touched.values():
            self._dispatch(queue)

    def _dead_letter(self, queue: Queue, entry: Entry, reason: str) -> None:
        dlx = queue.dead_letter_exchange
        message = entry.message
        cycle = reason != "rejected" and any(q == queue.name for q, _ in message.deaths)
        if dlx is None or dlx not in self.exchanges or cycle:
            queue.stats.dropped += 1
            return
        first = message.deaths[0] if message.deaths else (queue.name, reason)
        headers = dict(message.headers)
        headers.setdefault("x-first-death-queue", first[0])
        headers.setdefault("x-first-death-reason", first[1])
        headers.setdefault("x-first-death-exchange", message.exchange)
        headers["x-death-count"] = len(message.deaths) + 1
        dead = Message(
            exchange=dlx,
            routing_key=queue.dead_letter_routing_key or message.routing_key,
            body=message.body,
            headers=headers,
            expiration_s=None,
            deaths=(*message.deaths, (queue.name, reason)),
        )
        queue.stats.dead_lettered += 1
        self._route_and_enqueue(dead)

    def _queue(self, name: str) -> Queue:
        queue = self.queues.get(name)
        if queue is None:
            raise BrokerError(NOT_FOUND, f"no queue {name!r}")
        return queue

    def _exchange(self, name: str) -> Exchange:
        exchange = self.exchanges.get(name)
        if exchange is None:
            raise BrokerError(NOT_FOUND, f"no exchange {name!r}")
        return exchange
