"""What an exchange broker's queues hold: messages, queue entries, consumers, counters (7.2).

A queue's ready messages are a heap ordered by the sequence number each got on arrival, so a
requeued message goes back to its original place (RabbitMQ's behaviour where it can) and the
head is always the oldest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from archlab.streaming.routing.exchanges import HeaderValue


@dataclass(frozen=True)
class Message:
    exchange: str
    routing_key: str
    body: bytes
    headers: Mapping[str, HeaderValue] = field(default_factory=dict)
    expiration_s: float | None = None
    deaths: tuple[tuple[str, str], ...] = ()  # (queue, reason), oldest first


@dataclass(frozen=True)
class Delivery:
    """A message pushed to (or fetched by) a session; ``tag`` is that session's delivery tag."""

    session: int
    consumer: str
    tag: int
    queue: str
    message: Message
    redelivered: bool


@dataclass(order=True)
class Entry:
    seq: int
    message: Message = field(compare=False)
    expires_at: float | None = field(compare=False, default=None)
    redelivered: bool = field(compare=False, default=False)


@dataclass
class QueueStats:
    enqueued: int = 0
    delivered: int = 0
    acked: int = 0
    requeued: int = 0
    dead_lettered: int = 0
    dropped: int = 0
    expired: int = 0


@dataclass
class Consumer:
    tag: str
    session: int
    queue: str
    prefetch: int  # 0: unlimited
    unacked: int = 0


@dataclass
class Queue:
    name: str
    message_ttl_s: float | None = None
    max_length: int | None = None
    dead_letter_exchange: str | None = None
    dead_letter_routing_key: str | None = None
    ready: list[Entry] = field(default_factory=list)  # a heap by seq: the head is ready[0]
    unacked: int = 0
    consumers: list[tuple[int, str]] = field(default_factory=list)  # (session, tag)
    stats: QueueStats = field(default_factory=QueueStats)
    next_seq: int = 0
    turn: int = 0


def expired(entry: Entry, now: float) -> bool:
    return entry.expires_at is not None and entry.expires_at <= now
