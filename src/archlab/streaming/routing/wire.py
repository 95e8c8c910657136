"""The exchange broker's wire protocol, sans-IO: frames of a JSON header and raw body bytes.

A frame on the TCP stream is ``length u32 LE | body`` (:mod:`archlab.runtime.framing`); a body
is ``header_length u32 LE | header (UTF-8 JSON object) | payload (the message bytes)``. Every
request header has an ``op`` and an integer ``id``; the server answers each request with a
header holding the same ``id`` and ``ok`` (and ``code`` and ``error`` when not ok), and pushes
deliveries as ``{"op": "deliver", ...}`` frames with the message as payload. The operations
and their fields are listed in :data:`OPERATIONS` and in the README.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from archlab.runtime.framing import frame

_U32 = struct.Struct("<I")
#: The largest frame the server accepts (a message body plus its header).
MAX_FRAME = 16 * 2**20

#: op -> the fields it requires (optional fields are read with defaults).
OPERATIONS: dict[str, tuple[str, ...]] = {
    "declare_exchange": ("name", "type"),
    "declare_queue": ("name",),
    "delete_queue": ("name",),
    "bind": ("queue", "exchange"),
    "unbind": ("queue", "exchange"),
    "publish": ("exchange", "routing_key"),
    "consume": ("queue", "consumer"),
    "cancel": ("consumer",),
    "get": ("queue",),
    "ack": ("tag",),
    "nack": ("tag",),
    "depth": ("queue",),
}

#: AMQP's reply codes, reused: frame and syntax errors, and the channel errors.
FRAME_ERROR = 501
SYNTAX_ERROR = 502
COMMAND_INVALID = 503
NOT_IMPLEMENTED = 540


class ProtocolError(ValueError):
    """A body that is not a valid request; ``code`` is the reply code to send back."""

    def __init__(self, code: int, text: str, request_id: int | None = None) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.request_id = request_id


def encode(header: dict[str, Any], payload: bytes = b"") -> bytes:
    """One whole frame, length prefix included."""
    raw = json.dumps(header, separators=(",", ":")).encode()
    return frame(_U32.pack(len(raw)) + raw + payload)


def decode(body: bytes) -> tuple[dict[str, Any], bytes]:
    """``(header, payload)`` of one frame body; :class:`ProtocolError` if it is malformed."""
    if len(body) < 4:
        raise ProtocolError(FRAME_ERROR, f"frame of {len(body)} bytes has no header length")
    (size,) = _U32.unpack_from(body)
    if size > len(body) - 4:
        raise ProtocolError(
            FRAME_ERROR, f"header length {size} exceeds the frame's {len(body) - 4} bytes"
        )
    try:
        header = json.loads(body[4 : 4 + size])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProtocolError(SYNTAX_ERROR, f"header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise ProtocolError(SYNTAX_ERROR, "header is not a JSON object")
    return header, body[4 + size :]


def check_request(header: dict[str, Any]) -> tuple[int, str]:
    """``(id, op)`` of a request header, or :class:`ProtocolError` naming what is wrong."""
    request_id = header.get("id")
    if not isinstance(request_id, int) or isinstance(request_id, bool):
        raise ProtocolError(SYNTAX_ERROR, "request has no integer 'id'")
    op = header.get("op")
    if not isinstance(op, str):
        raise ProtocolError(SYNTAX_ERROR, "request has no 'op'", request_id)
    if op not in OPERATIONS:
        raise ProtocolError(NOT_IMPLEMENTED, f"unknown op {op!r}", request_id)
    missing = [f for f in OPERATIONS[op] if f not in header]
    if missing:
        raise ProtocolError(SYNTAX_ERROR, f"{op}: missing field {missing[0]!r}", request_id)
    return request_id, op
