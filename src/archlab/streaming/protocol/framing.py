"""Request and response frames: size prefix, headers, version checks (sans-IO).

A frame is an int32 size and that many bytes. A request header is ``api_key int16,
api_version int16, correlation_id int32, client_id nullable string`` (header v1), plus a
tagged-field section when the request's version is flexible (header v2). A response header is
the correlation id, plus tagged fields when flexible (v1) -- except ApiVersions, whose
response header is always v0 so that a client can read it before it knows any versions.

A request for an API or version this broker does not implement gets a response in the
protocol's own terms: for ApiVersions a v0 body with UNSUPPORTED_VERSION and the supported
ranges (the client retries with a version from them); for anything else the correlation id
and the UNSUPPORTED_VERSION error code, never a dropped connection.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from archlab.streaming.protocol import errors
from archlab.streaming.protocol.messages import API_VERSIONS, APIS, Api
from archlab.streaming.protocol.schema import Message, Part, ProtocolError, Reader, decode, encode

#: Frames larger than this are refused (Kafka's socket.request.max.bytes default).
MAX_FRAME_BYTES = 100 * 2**20


@dataclass(frozen=True)
class Request:
    api: Api
    version: int
    correlation_id: int
    client_id: str
    body: Message


@dataclass(frozen=True)
class Unsupported:
    api_key: int
    version: int
    correlation_id: int


def parse_request(frame: bytes) -> Request | Unsupported:
    """Decode one frame (without its size prefix). Raises ProtocolError if malformed."""
    if len(frame) < 8:
        raise ProtocolError(f"request of {len(frame)} bytes is shorter than a request header")
    api_key, version, correlation_id = struct.unpack_from(">hhi", frame)
    api = APIS.get(api_key)
    if api is None or not api.min_version <= version <= api.max_version:
        return Unsupported(api_key, version, correlation_id)
    reader = Reader(frame, 8)
    client_id = reader.primitive("string", flexible=False) or ""
    flexible = api.flexible(version)
    if flexible:
        reader.skip_tags()
    body = decode(api.request, version, flexible, reader)
    return Request(api, version, correlation_id, client_id, body)


def supported_versions() -> list[Message]:
    return [
        {"api_key": a.key, "min_version": a.min_version, "max_version": a.max_version}
        for a in sorted(APIS.values(), key=lambda a: a.key)
    ]


def encode_response(api: Api, version: int, correlation_id: int, body: Message) -> list[Part]:
    """The whole response frame: size prefix, header and body (parts may be stored slices)."""
    flexible = api.flexible(version)
    header = bytearray(struct.pack(">i", correlation_id))
    if flexible and api.key != API_VERSIONS.key:
        header.append(0)
    parts: list[Part] = [bytes(header), *encode(api.response, version, flexible, body)]
    return [struct.pack(">i", frame_length(parts)), *parts]


def encode_unsupported(u: Unsupported) -> bytes:
    body = struct.pack(">ih", u.correlation_id, errors.UNSUPPORTED_VERSION)
    if u.api_key == API_VERSIONS.key:
        tail = encode(API_VERSIONS.response, 0, False, {"api_keys": supported_versions()})
        body = struct.pack(">i", u.correlation_id) + b"".join(
            p for p in tail if isinstance(p, bytes)
        )
        body = body[:4] + struct.pack(">h", errors.UNSUPPORTED_VERSION) + body[6:]
    return struct.pack(">i", len(body)) + body


def frame_length(parts: list[Part]) -> int:
    return sum(len(p) if isinstance(p, bytes) else int(p.length) for p in parts)
