"""The chat server (codex 10.1): one actor per connection, under a one-for-one supervisor.

Every accepted connection gets a *mailbox* (an :class:`asyncio.Queue`) and an *actor*: a
task that takes one item at a time from the mailbox and is the only code that touches the
connection's session. A reader task turns the socket's frames into mailbox items; other
actors post ``deliver`` items to it. Actors are children of one
:class:`~archlab.cases.whatsapp.supervisor.Supervisor`: an exception in one (a bug, a bad
frame that slipped through, or :meth:`ChatServer.crash` in a test) restarts that actor alone;
its session is rebuilt from the durable inbox, so the client at most sees a message again
(acknowledgements make that harmless) and every other connection sees nothing.

Frames are length-prefixed JSON (:mod:`archlab.runtime.framing`)::

    client -> server   {"t": "login", "user": "alice"}
                       {"t": "send", "to": "bob", "id": 7, "payload": "<base64>"}
                       {"t": "ack", "seq": 12}
    server -> client   {"t": "ok"}   {"t": "sent", "id": 7}   {"t": "err", "why": "..."}
                       {"t": "msg", "seq": 12, "from": "alice", "id": 7, "payload": "<base64>"}

A message is appended to the recipient's inbox (durable, :mod:`.inbox`) before ``sent`` is
answered, and stays there until the recipient acknowledges it, so it is delivered in order on
the next connection if not on this one. A recipient with no connection is sent a push
*tickle* (``on_tickle``): a wake-up with no content. Payloads are opaque bytes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archlab.cases.whatsapp.inbox import Inbox
from archlab.cases.whatsapp.supervisor import Supervisor
from archlab.runtime.framing import FrameDecoder, frame

_USER = re.compile(r"^[a-z0-9_-]{1,64}$")
MAX_FRAME = 256 * 1024


class InjectedCrash(RuntimeError):
    """Raised inside an actor by :meth:`ChatServer.crash`."""


class _Connection:
    """What outlives an actor's restart: the socket and the mailbox."""

    def __init__(self, number: int, writer: asyncio.StreamWriter) -> None:
        self.number = number
        self.writer = writer
        self.mailbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.user: str | None = None
        self.crash_next = False

    def send(self, body: dict[str, Any]) -> None:
        if not self.writer.is_closing():
            self.writer.write(frame(json.dumps(body, separators=(",", ":")).encode()))


class ChatServer:
    def __init__(
        self,
        directory: Path,
        intensity: int = 20,
        period: float = 5.0,
        on_tickle: Callable[[str], None] | None = None,
    ) -> None:
        self.inbox = Inbox(directory)
        self.supervisor = Supervisor(intensity, period)
        self.on_tickle = on_tickle or (lambda user: None)
        self.online: dict[str, _Connection] = {}
        self._connections: dict[int, _Connection] = {}
        self._readers: set[asyncio.Task[None]] = set()
        self._number = 0
        self._server: asyncio.Server | None = None
        self.port = 0
        self.tickles = 0

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._readers):
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        await self.supervisor.shutdown()
        for conn in self._connections.values():
            conn.writer.close()
        if self._server is not None:
            await self._server.wait_closed()
        self.inbox.close()

    def crash(self, user: str) -> bool:
        """Post ``user``'s actor a poison message it raises on (fault injection)."""
        conn = self.online.get(user)
        if conn is None:
            return False
        conn.crash_next = True
        conn.mailbox.put_nowait(("poison", None))
        return True

    @property
    def connections(self) -> int:
        return len(self._connections)

    # -- per connection ----------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._number += 1
        conn = _Connection(self._number, writer)
        self._connections[conn.number] = conn
        task = asyncio.current_task()
        if task is not None:
            self._readers.add(task)
            task.add_done_callback(self._readers.discard)
        self.supervisor.start_child(conn.number, lambda: self._actor(conn))
        decoder = FrameDecoder(MAX_FRAME)
        try:
            while data := await reader.read(65536):
                for body in decoder.feed(data):
                    conn.mailbox.put_nowait(("frame", body))
        except (ConnectionError, ValueError, asyncio.CancelledError):
            pass
        finally:
            self.supervisor.stop_child(conn.number)
            self._connections.pop(conn.number, None)
            if conn.user is not None and self.online.get(conn.user) is conn:
                del self.online[conn.user]
            writer.close()

    async def _actor(self, conn: _Connection) -> None:
        """One connection's process: rebuilds its session, then serves its mailbox."""
        delivered = 0
        if conn.user is not None:
            delivered = self._flush(conn, 0)  # restarted: resend what is unacknowledged
        while True:
            kind, item = await conn.mailbox.get()
            if kind == "poison" and conn.crash_next:
                # The injected fault is a message the actor cannot handle: it dies on it, and
                # what is queued behind it waits in the mailbox for the restarted actor.
                conn.crash_next = False
                raise InjectedCrash(f"actor of {conn.user or conn.number} crashed on purpose")
            if kind == "deliver" and conn.user is not None:
                delivered = self._flush(conn, delivered)
            elif kind == "frame":
                delivered = self._handle(conn, item, delivered)
            await conn.writer.drain()

    def _handle(self, conn: _Connection, body: bytes, delivered: int) -> int:  # noqa: PLR0911 - one return per frame kind and per refusal
        try:
            request = json.loads(body)
            kind = request["t"]
        except (ValueError, KeyError, TypeError):
            conn.send({"t": "err", "why": "expected a JSON object with a field 't'"})
            return delivered
        if kind == "login":
            user = request.get("user")
            if not isinstance(user, str) or not _USER.match(user):
                conn.send({"t": "err", "why": "user must be 1-64 of [a-z0-9_-]"})
                return delivered
            conn.user = user
            self.online[user] = conn
            conn.send({"t": "ok"})
            return self._flush(conn, 0)
        if conn.user is None:
            conn.send({"t": "err", "why": "log in first"})
            return delivered
        if kind == "send":
            return self._send(conn, request, delivered)
        if kind == "ack" and isinstance(request.get("seq"), int):
            self.inbox.acknowledge(conn.user, request["seq"])
            return delivered
        conn.send({"t": "err", "why": f"unknown or malformed frame {kind!r}"})
        return delivered

    def _send(self, conn: _Connection, request: dict[str, Any], delivered: int) -> int:
        to, msg_id = request.get("to"), request.get("id")
        try:
            payload = base64.b64decode(request.get("payload", ""), validate=True)
        except (binascii.Error, TypeError):
            payload = None
        if (
            not isinstance(to, str)
            or not _USER.match(to)
            or not isinstance(msg_id, int)
            or payload is None
        ):
            conn.send({"t": "err", "why": "send needs 'to', an integer 'id' and base64 'payload'"})
            return delivered
        assert conn.user is not None
        self.inbox.append(to, conn.user, msg_id, payload)
        conn.send({"t": "sent", "id": msg_id})
        target = self.online.get(to)
        if target is None:
            self.tickles += 1
            self.on_tickle(to)
        else:
            target.mailbox.put_nowait(("deliver", None))
        return delivered

    def _flush(self, conn: _Connection, after: int) -> int:
        """Send ``conn``'s user every stored message after sequence ``after``."""
        assert conn.user is not None
        last = after
        for item in self.inbox.pending(conn.user, after):
            conn.send(
                {
                    "t": "msg",
                    "seq": item.seq,
                    "from": item.sender,
                    "id": item.msg_id,
                    "payload": base64.b64encode(item.payload).decode(),
                }
            )
            last = item.seq
        return last
