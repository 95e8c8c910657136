"""A chat client (codex 10.1) speaking the server's frames, for tests and experiments.

It logs in, sends messages with increasing ids, acknowledges every message it receives
(after recording it), and keeps what it saw: messages in arrival order, ``sent`` receipts,
``err`` frames, and whether the connection dropped.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from archlab.runtime.framing import FrameDecoder, frame


class ChatClient:
    def __init__(self, user: str) -> None:
        self.user = user
        self.received: list[tuple[str, int, bytes]] = []
        self.sent_receipts: set[int] = set()
        self.errors: list[str] = []
        self.dropped = False
        self._next_id = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._logged_in = asyncio.Event()

    async def connect(self, port: int, host: str = "127.0.0.1") -> None:
        self._reader, self._writer = await asyncio.open_connection(host, port)
        self._logged_in.clear()
        self._send({"t": "login", "user": self.user})
        self._task = asyncio.ensure_future(self._listen())
        await asyncio.wait_for(self._logged_in.wait(), 10)

    async def send(self, to: str, payload: bytes) -> int:
        self._next_id += 1
        self._send(
            {
                "t": "send",
                "to": to,
                "id": self._next_id,
                "payload": base64.b64encode(payload).decode(),
            }
        )
        if self._writer is not None:
            await self._writer.drain()
        return self._next_id

    def send_raw(self, body: bytes) -> None:
        if self._writer is not None:
            self._writer.write(frame(body))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _send(self, body: dict[str, Any]) -> None:
        self.send_raw(json.dumps(body).encode())

    async def _listen(self) -> None:
        assert self._reader is not None
        decoder = FrameDecoder(1 << 20)
        try:
            while data := await self._reader.read(65536):
                for raw in decoder.feed(data):
                    self._on_frame(json.loads(raw))
        except (ConnectionError, ValueError):
            pass
        self.dropped = True

    def _on_frame(self, body: dict[str, Any]) -> None:
        kind = body.get("t")
        if kind == "ok":
            self._logged_in.set()
        elif kind == "sent":
            self.sent_receipts.add(int(body["id"]))
        elif kind == "msg":
            key = (str(body["from"]), int(body["id"]), base64.b64decode(body["payload"]))
            if key not in self.received[-64:]:  # a restarted actor may resend the latest
                self.received.append(key)
            self._send({"t": "ack", "seq": body["seq"]})
        elif kind == "err":
            self.errors.append(str(body.get("why")))
