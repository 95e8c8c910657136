"""The four exchange types of RabbitMQ's model (codex 7.2): which queues a message goes to.

An exchange holds bindings ``(queue, key, arguments)`` and answers :meth:`Exchange.route` with
the *set* of queues a message reaches, so a queue bound twice (``a.*`` and ``*.b`` both matching
``a.b``) receives one copy, as RabbitMQ documents (docs/references.md §7.2):

- **direct**: the binding key equals the routing key;
- **topic**: the binding key is a pattern of words (``*`` one word, ``#`` zero or more),
  matched by :class:`archlab.streaming.routing.topic.TopicTrie`;
- **fanout**: every bound queue, keys ignored;
- **headers**: the binding's arguments against the message's headers; ``x-match`` is ``all``
  (the default: every argument present and equal) or ``any`` (at least one), ignoring arguments
  whose names begin with ``x-``; ``all-with-x`` / ``any-with-x`` compare those too. An argument
  with a ``None`` value asks only that the header be present.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from archlab.streaming.routing.topic import TopicTrie

ExchangeType = Literal["direct", "topic", "fanout", "headers"]
EXCHANGE_TYPES: tuple[ExchangeType, ...] = ("direct", "topic", "fanout", "headers")
HeaderValue = str | int | float | bool | None
Headers = Mapping[str, HeaderValue]
X_MATCH_KINDS = ("all", "any", "all-with-x", "any-with-x")


class RoutingError(ValueError):
    """A binding or declaration RabbitMQ would refuse (a bad x-match, an unknown type)."""


def headers_match(arguments: Headers, headers: Headers) -> bool:
    """Whether a headers-exchange binding with ``arguments`` matches a message's ``headers``."""
    kind = arguments.get("x-match", "all")
    if kind not in X_MATCH_KINDS:
        raise RoutingError(f"x-match must be one of {', '.join(X_MATCH_KINDS)}, got {kind!r}")
    with_x = str(kind).endswith("-with-x")
    wanted = {
        name: value
        for name, value in arguments.items()
        if name != "x-match" and (with_x or not name.startswith("x-"))
    }
    results = (
        name in headers and (value is None or _same(headers[name], value))
        for name, value in wanted.items()
    )
    return all(results) if str(kind).startswith("all") else any(results)


def _same(a: HeaderValue, b: HeaderValue) -> bool:
    # a header of 1 and a binding of True are different AMQP types: compare type and value
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class Binding:
    """One binding of ``queue`` to an exchange."""

    queue: str
    key: str = ""
    arguments: tuple[tuple[str, HeaderValue], ...] = ()

    @property
    def argument_map(self) -> dict[str, HeaderValue]:
        return dict(self.arguments)


def binding(queue: str, key: str = "", arguments: Headers | None = None) -> Binding:
    return Binding(queue, key, tuple(sorted((arguments or {}).items())))


@dataclass
class Exchange:
    """An exchange of one type and its bindings."""

    name: str
    type: ExchangeType
    bindings: set[Binding] = field(default_factory=set)
    _topic: TopicTrie[str] = field(default_factory=TopicTrie)
    _direct: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in EXCHANGE_TYPES:
            raise RoutingError(
                f"exchange {self.name!r}: type must be one of {', '.join(EXCHANGE_TYPES)}, "
                f"got {self.type!r}"
            )

    def bind(self, b: Binding) -> bool:
        """Add a binding; False if it was already there (bindings are idempotent)."""
        if b in self.bindings:
            return False
        if self.type == "headers":
            headers_match(b.argument_map, {})  # refuse a bad x-match now, not at publish
        self.bindings.add(b)
        if self.type == "topic":
            self._topic_add(b)
        elif self.type == "direct":
            self._direct.setdefault(b.key, set()).add(b.queue)
        return True

    def unbind(self, b: Binding) -> bool:
        if b not in self.bindings:
            return False
        self.bindings.discard(b)
        if self.type == "topic":
            if not any(o.queue == b.queue and o.key == b.key for o in self.bindings):
                self._topic.remove(b.key, b.queue)
        elif self.type == "direct" and not any(
            o.queue == b.queue and o.key == b.key for o in self.bindings
        ):
            queues = self._direct[b.key]
            queues.discard(b.queue)
            if not queues:
                del self._direct[b.key]
        return True

    def drop_queue(self, queue: str) -> int:
        """Remove every binding to ``queue`` (the queue was deleted); how many were removed."""
        gone = [b for b in self.bindings if b.queue == queue]
        for b in gone:
            self.unbind(b)
        return len(gone)

    def route(self, routing_key: str, headers: Headers) -> set[str]:
        """The queues a message with this key and these headers reaches, each once."""
        if self.type == "direct":
            return set(self._direct.get(routing_key, ()))
        if self.type == "topic":
            return self._topic.match(routing_key)
        if self.type == "fanout":
            return {b.queue for b in self.bindings}
        return {b.queue for b in self.bindings if headers_match(b.argument_map, headers)}

    def _topic_add(self, b: Binding) -> None:
        self._topic.add(b.key, b.queue)
