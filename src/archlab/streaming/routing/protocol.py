"""Requests of the exchange wire protocol applied to a :class:`Broker`, sans-IO.

:func:`handle` takes one decoded request of one session and returns the reply (header and
payload); the deliveries it caused stay in the broker's outbox for the host to send, as
:func:`delivery_frame` encodes them. Wrong field types are a ``SYNTAX_ERROR`` reply naming the
field; broker refusals are the broker's AMQP code (404, 406); nothing here closes a connection.
"""

from __future__ import annotations

from typing import Any

from archlab.streaming.routing.broker import Broker, BrokerError, Delivery, Message
from archlab.streaming.routing.exchanges import EXCHANGE_TYPES, HeaderValue
from archlab.streaming.routing.wire import (
    COMMAND_INVALID,
    SYNTAX_ERROR,
    ProtocolError,
    check_request,
    encode,
)

Reply = tuple[dict[str, Any], bytes]


def handle(broker: Broker, session: int, header: dict[str, Any], payload: bytes) -> Reply:
    """Apply one request; the reply to send (errors included, never raised)."""
    try:
        request_id, op = check_request(header)
    except ProtocolError as e:
        return error_reply(e.request_id, e.code, e.text), b""
    try:
        body, reply_payload = _apply(broker, session, op, header, payload)
    except ProtocolError as e:
        return error_reply(request_id, e.code, e.text), b""
    except BrokerError as e:
        return error_reply(request_id, e.code, e.text), b""
    return {"id": request_id, "ok": True, **body}, reply_payload


def error_reply(request_id: int | None, code: int, text: str) -> dict[str, Any]:
    return {"id": request_id, "ok": False, "code": code, "error": text}


def delivery_frame(d: Delivery) -> bytes:
    return encode({"op": "deliver", **describe(d)}, d.message.body)


def describe(d: Delivery) -> dict[str, Any]:
    return {
        "consumer": d.consumer,
        "tag": d.tag,
        "queue": d.queue,
        "exchange": d.message.exchange,
        "routing_key": d.message.routing_key,
        "headers": dict(d.message.headers),
        "redelivered": d.redelivered,
    }


def _apply(  # noqa: PLR0911, PLR0912 - one branch per operation of the protocol
    broker: Broker, session: int, op: str, h: dict[str, Any], payload: bytes
) -> tuple[dict[str, Any], bytes]:
    if op == "declare_exchange":
        kind = _str(h, "type")
        if kind not in EXCHANGE_TYPES:
            raise ProtocolError(COMMAND_INVALID, f"unknown exchange type {kind!r}")
        broker.declare_exchange(_str(h, "name"), kind)
        return {}, b""
    if op == "declare_queue":
        broker.declare_queue(_str(h, "name"), _table(h, "arguments"))
        return {}, b""
    if op == "delete_queue":
        return {"messages": broker.delete_queue(_str(h, "name"))}, b""
    if op in ("bind", "unbind"):
        action = broker.bind if op == "bind" else broker.unbind
        action(_str(h, "queue"), _str(h, "exchange"), _str(h, "key", ""), _table(h, "arguments"))
        return {}, b""
    if op == "publish":
        expiration = h.get("expiration_ms")
        if expiration is not None and (not isinstance(expiration, int) or expiration < 0):
            raise ProtocolError(SYNTAX_ERROR, "publish: 'expiration_ms' must be an int ≥ 0")
        message = Message(
            _str(h, "exchange"),
            _str(h, "routing_key"),
            payload,
            _table(h, "headers"),
            expiration / 1000 if expiration is not None else None,
        )
        return {"routed": broker.publish(message)}, b""
    if op == "consume":
        broker.consume(session, _str(h, "queue"), _str(h, "consumer"), _int(h, "prefetch", 0))
        return {}, b""
    if op == "cancel":
        broker.cancel(session, _str(h, "consumer"))
        return {}, b""
    if op == "get":
        got = broker.get(session, _str(h, "queue"), bool(h.get("auto_ack", False)))
        if got is None:
            return {"message": None}, b""
        return {"message": describe(got)}, got.message.body
    if op == "ack":
        broker.ack(session, _int(h, "tag"), bool(h.get("multiple", False)))
        return {}, b""
    if op == "nack":
        requeue = bool(h.get("requeue", True))
        broker.nack(session, _int(h, "tag"), bool(h.get("multiple", False)), requeue)
        return {}, b""
    ready, unacked = broker.depth(_str(h, "queue"))
    return {"ready": ready, "unacked": unacked}, b""


def _str(h: dict[str, Any], name: str, default: str | None = None) -> str:
    value = h.get(name, default)
    if not isinstance(value, str):
        raise ProtocolError(SYNTAX_ERROR, f"field {name!r} must be a string")
    return value


def _int(h: dict[str, Any], name: str, default: int | None = None) -> int:
    value = h.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(SYNTAX_ERROR, f"field {name!r} must be an integer")
    return value


def _table(h: dict[str, Any], name: str) -> dict[str, HeaderValue]:
    value = h.get(name) or {}
    if not isinstance(value, dict) or not all(
        isinstance(v, str | int | float | bool) or v is None for v in value.values()
    ):
        raise ProtocolError(SYNTAX_ERROR, f"field {name!r} must be an object of scalars")
    return value
