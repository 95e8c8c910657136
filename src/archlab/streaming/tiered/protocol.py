"""Requests of the tiered broker's wire protocol applied to a :class:`Broker`, sans-IO.

Frames are the exchange broker's (:mod:`archlab.streaming.routing.wire`: a JSON header and a
payload); the operations are a log's:

- ``produce {topic}`` + payload -> ``{ledger, entry}``;
- ``subscribe {topic, subscription, initial: earliest|latest}``;
- ``receive {topic, subscription, max}`` -> ``{messages: [[ledger, entry, length], ...]}`` with
  the messages' bytes concatenated as the payload;
- ``ack {topic, subscription, ledger, entry}`` (cumulative), ``seek`` (same fields);
- ``stats`` -> bytes on the bookies and in the object store.

Errors: 502 a missing or mistyped field, 540 an unknown op, 404 no such subscription or
message, 541 the storage cannot serve the request now (too few bookies, an I/O error).

A broker owns the topics it serves: the first request naming a topic makes it acquire it.
"""

from __future__ import annotations

from typing import Any

from archlab.streaming.routing.wire import NOT_IMPLEMENTED, SYNTAX_ERROR
from archlab.streaming.tiered.cluster import Broker, OwnershipLost, Position
from archlab.streaming.tiered.ledger import NotEnoughBookies, RecoveryFailed

Reply = tuple[dict[str, Any], bytes]
OPERATIONS = ("produce", "subscribe", "receive", "ack", "seek", "stats")
MAX_RECEIVE = 10_000
INTERNAL_ERROR = 541  # AMQP's reply code for a server-side failure


class RequestError(ValueError):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def handle(broker: Broker, header: dict[str, Any], payload: bytes) -> Reply:
    """Apply one request; the reply (errors included, never raised)."""
    request_id = header.get("id")
    if not isinstance(request_id, int) or isinstance(request_id, bool):
        return _error(None, SYNTAX_ERROR, "request has no integer 'id'"), b""
    op = header.get("op")
    if op not in OPERATIONS:
        return _error(request_id, NOT_IMPLEMENTED, f"unknown op {op!r}"), b""
    try:
        body, out = _apply(broker, str(op), header, payload)
    except RequestError as e:
        return _error(request_id, e.code, e.text), b""
    except KeyError as e:
        return _error(request_id, 404, f"not found: {e.args[0]}"), b""
    except (NotEnoughBookies, RecoveryFailed, OwnershipLost, OSError) as e:
        # the storage cannot take the request now (bookies down, a lost topic, an I/O error)
        return _error(request_id, INTERNAL_ERROR, f"{type(e).__name__}: {e}"), b""
    return {"id": request_id, "ok": True, **body}, out


def _error(request_id: int | None, code: int, text: str) -> dict[str, Any]:
    return {"id": request_id, "ok": False, "code": code, "error": text}


def _apply(broker: Broker, op: str, h: dict[str, Any], payload: bytes) -> Reply:
    if op == "stats":
        c = broker.cluster
        return {"local_bytes": c.local_bytes(), "offloaded_bytes": c.offloaded_bytes()}, b""
    topic = _text(h, "topic")
    if topic not in broker.owned:
        broker.acquire(topic)
    if op == "produce":
        position = broker.publish(topic, payload)
        return {"ledger": position.ledger, "entry": position.entry}, b""
    subscription = _text(h, "subscription")
    if op == "subscribe":
        initial = h.get("initial", "earliest")
        if initial not in ("earliest", "latest"):
            raise RequestError(SYNTAX_ERROR, "'initial' must be earliest or latest")
        broker.subscribe(topic, subscription, initial)
        return {}, b""
    if subscription not in broker.cluster.topics[topic].cursors:
        raise RequestError(404, f"no subscription {subscription!r} on {topic}")
    if op == "receive":
        limit = _number(h, "max", 100)
        if not 1 <= limit <= MAX_RECEIVE:
            raise RequestError(SYNTAX_ERROR, f"'max' must be 1..{MAX_RECEIVE}")
        got = broker.receive(topic, subscription, limit)
        listing = [[p.ledger, p.entry, len(data)] for p, data in got]
        return {"messages": listing}, b"".join(data for _, data in got)
    position = Position(_number(h, "ledger"), _number(h, "entry"))
    if op == "ack":
        broker.ack(topic, subscription, position)
    else:
        broker.seek(topic, subscription, position)
    return {}, b""


def _text(h: dict[str, Any], name: str) -> str:
    value = h.get(name)
    if not isinstance(value, str) or not value:
        raise RequestError(SYNTAX_ERROR, f"field {name!r} must be a non-empty string")
    return value


def _number(h: dict[str, Any], name: str, default: int | None = None) -> int:
    value = h.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RequestError(SYNTAX_ERROR, f"field {name!r} must be an integer")
    return value
