"""A Jupiter-style OT server and client, as sans-IO state machines (codex 5.4).

The codex's point about OT is structural: a central server orders every operation. Here the
server keeps one revision counter and the list of operations it has applied; a client
submits an operation together with the revision it was made on, and the server transforms it
against every operation applied since (those the client had not seen), applies it, and
broadcasts it. Server-ordered operations win ties (see :func:`archlab.collab.ot.ops.transform`).

The client (the protocol of Jupiter as popularised by ot.js) has three states:

* ``synchronized``: nothing in flight; a local edit is sent at once.
* ``awaiting ack``: one operation in flight; further local edits are composed into a buffer.
* ``awaiting ack with buffer``: on ack, the buffer is sent as the next in-flight operation.

A remote operation is transformed against the in-flight operation and then the buffer before
it is applied locally. So a client has at most one operation outstanding, and every edit
waits on the server: with the server unreachable, nothing a client types is committed.

Both classes only compute; the caller moves the messages (the simulator, a WebSocket).
Undo is an undo stack of inverses, transformed through every remote operation so undoing
stays correct under concurrency; the client's cursor is transformed the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from archlab.collab.ot import ops
from archlab.collab.ot.ops import Op, OperationError

Transform = Callable[..., tuple[Op, Op]]


@dataclass(frozen=True)
class Submit:
    client: str
    revision: int
    op: Op


@dataclass(frozen=True)
class Broadcast:
    """The server applied ``op`` as revision ``revision`` (1-based) on behalf of ``client``."""

    client: str
    revision: int
    op: Op


class OTServer:
    def __init__(self, doc: str = "", transform: Transform = ops.transform) -> None:
        self.doc = doc
        self.history: list[Op] = []
        self._transform = transform

    @property
    def revision(self) -> int:
        return len(self.history)

    def receive(self, submit: Submit) -> Broadcast:
        """Order one client operation; the result goes to every client (ack to its author)."""
        if not 0 <= submit.revision <= self.revision:
            raise OperationError(
                f"client {submit.client} sent revision {submit.revision}; "
                f"the server is at {self.revision}"
            )
        op = submit.op
        for past in self.history[submit.revision :]:
            _, op = self._transform(past, op, a_first=True)
        self.doc = ops.apply(self.doc, op)
        self.history.append(op)
        return Broadcast(submit.client, self.revision, op)

    def history_bytes(self) -> int:
        """Characters of text held in the history (what a server keeps for late clients)."""
        return sum(len(c) if isinstance(c, str) else 8 for op in self.history for c in op)


State = Literal["synchronized", "awaiting ack", "awaiting ack with buffer"]


class OTClient:
    def __init__(
        self, name: str, doc: str = "", revision: int = 0, transform: Transform = ops.transform
    ) -> None:
        self.name = name
        self.doc = doc
        self.revision = revision
        self.outstanding: Op | None = None
        self.buffer: Op | None = None
        self.cursor = 0
        self.undo_stack: list[Op] = []
        self._transform = transform

    @property
    def state(self) -> State:
        if self.outstanding is None:
            return "synchronized"
        return "awaiting ack" if self.buffer is None else "awaiting ack with buffer"

    @property
    def pending_ops(self) -> int:
        return (self.outstanding is not None) + (self.buffer is not None)

    def edit(self, position: int, delete: int = 0, insert: str = "") -> Submit | None:
        return self.local(ops.edit(len(self.doc), position, delete, insert))

    def local(self, op: Op, *, undoable: bool = True) -> Submit | None:
        """Apply a local edit; returns the message to send now, if any."""
        if undoable:
            self.undo_stack.append(ops.invert(op, self.doc))
        self.doc = ops.apply(self.doc, op)
        self.cursor = ops.transform_index(self.cursor, op, own=True)
        if self.outstanding is None:
            self.outstanding = op
            return Submit(self.name, self.revision, op)
        self.buffer = op if self.buffer is None else ops.compose(self.buffer, op)
        return None

    def undo(self) -> Submit | None:
        """Undo this client's latest edit (as a new edit, correct after remote ones)."""
        if not self.undo_stack:
            return None
        return self.local(self.undo_stack.pop(), undoable=False)

    def receive(self, message: Broadcast) -> Submit | None:
        """Handle the server's broadcast: an ack of our operation or someone else's edit."""
        if message.revision != self.revision + 1:
            raise OperationError(
                f"client {self.name} at revision {self.revision} got revision {message.revision}"
            )
        self.revision = message.revision
        if message.client == self.name:
            return self._ack()
        self._remote(message.op)
        return None

    def _ack(self) -> Submit | None:
        if self.outstanding is None:
            raise OperationError(f"client {self.name} got an ack with nothing in flight")
        self.outstanding, self.buffer = self.buffer, None
        if self.outstanding is None:
            return None
        return Submit(self.name, self.revision, self.outstanding)

    def _remote(self, op: Op) -> None:
        if self.outstanding is not None:
            op, self.outstanding = self._transform(op, self.outstanding, a_first=True)
        if self.buffer is not None:
            op, self.buffer = self._transform(op, self.buffer, a_first=True)
        self.doc = ops.apply(self.doc, op)
        self.cursor = ops.transform_index(self.cursor, op)
        stack: list[Op] = []
        for entry in reversed(self.undo_stack):
            moved, op = ops.transform(entry, op, a_first=False)
            stack.append(moved)
        self.undo_stack = stack[::-1]
