"""A blocking client of the tiered broker's wire protocol (:mod:`.protocol`), for the CLI."""

from __future__ import annotations

import itertools
import socket
import struct
from typing import Any

from archlab.streaming.routing.wire import decode, encode

_U32 = struct.Struct("<I")


class Refused(Exception):
    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code


class TieredClient:
    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._ids = itertools.count(1)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> TieredClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def call(self, op: str, payload: bytes = b"", **fields: Any) -> tuple[dict[str, Any], bytes]:
        self._sock.sendall(encode({"id": next(self._ids), "op": op, **fields}, payload))
        (size,) = _U32.unpack(self._exactly(4))
        reply, body = decode(self._exactly(size))
        if not reply.get("ok"):
            raise Refused(int(reply.get("code", 0)), str(reply.get("error", "")))
        return reply, body

    def produce(self, topic: str, message: bytes) -> tuple[int, int]:
        reply, _ = self.call("produce", message, topic=topic)
        return int(reply["ledger"]), int(reply["entry"])

    def subscribe(self, topic: str, subscription: str, initial: str = "earliest") -> None:
        self.call("subscribe", topic=topic, subscription=subscription, initial=initial)

    def receive(self, topic: str, subscription: str, limit: int) -> list[tuple[int, int, bytes]]:
        reply, body = self.call("receive", topic=topic, subscription=subscription, max=limit)
        out, pos = [], 0
        for ledger, entry, length in reply["messages"]:
            out.append((int(ledger), int(entry), body[pos : pos + length]))
            pos += length
        return out

    def ack(self, topic: str, subscription: str, ledger: int, entry: int) -> None:
        self.call("ack", topic=topic, subscription=subscription, ledger=ledger, entry=entry)

    def _exactly(self, n: int) -> bytes:
        chunks, got = [], 0
        while got < n:
            chunk = self._sock.recv(n - got)
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)
