"""The client of a real cluster: find the leader, follow redirects, retry safely, time out clearly.

A :class:`ClusterClient` holds one TCP connection at a time, to the node it believes leads.
:meth:`~ClusterClient.call` sends one request and keeps trying until it gets a definite answer
or its deadline passes:

- a ``not-leader`` reply redirects to the hinted leader (or to the next node when there is no
  hint, after a short pause: an election is probably running);
- a refused connection, a dropped connection or an attempt that gets no answer in
  ``attempt_timeout`` moves on to the next node;
- a ``busy`` refusal, and any ``info`` reply that is not final (an attempt overwritten by a new
  leader: ``retry``), are retried.

Retrying is safe because every command carries its session and sequence number
(:class:`~archlab.consensus.client.Command`): a command that committed twice is applied once
and the retry gets the cached reply. :meth:`~ClusterClient.execute` assigns the sequence
numbers; when the deadline passes it raises :class:`OutcomeUnknown` — the command may or may
not have taken effect, which a history records as ``info``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping

from archlab.consensus.client import (
    ClientRequest,
    ClientResponse,
    Command,
    KVOperation,
    OpenSession,
    Payload,
    Reply,
    Value,
)
from archlab.errors import UnavailableError
from archlab.runtime.codec import Frame, Hello, StatusReply, StatusRequest
from archlab.runtime.transport import FramedConnection, connect

#: Errors after which retrying the same request cannot help.
FINAL_ERRORS = frozenset({"session-expired", "stale-sequence", "malformed"})
#: Refusals that did nothing and are worth retrying (an overloaded leader says ``busy``).
RETRY_ERRORS = frozenset({"busy"})


class OutcomeUnknown(UnavailableError):
    """No definite answer before the deadline: the operation may or may not have taken effect.

    The cluster is unavailable (no majority, no leader), which is not the user's input: the CLI
    exits with :class:`~archlab.errors.UnavailableError`'s code 3, not 2.
    """


class ClusterClient:
    """A client session against a cluster given as ``{node id: (host, port)}``."""

    def __init__(
        self,
        addresses: Mapping[int, tuple[str, int]],
        *,
        timeout: float = 5.0,
        attempt_timeout: float = 1.0,
        first: int | None = None,
    ) -> None:
        if not addresses:
            raise ValueError("a cluster needs at least one address")
        self.addresses = dict(addresses)
        self.timeout = timeout
        self.attempt_timeout = attempt_timeout
        self.session: int | None = None
        self.seq = 0
        self._order = sorted(self.addresses)
        self._target = first if first in self.addresses else self._order[0]
        self._conn: FramedConnection | None = None
        self._conn_node: int | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Frame]] = {}
        #: Requests sent, counting retries (a measure of how much redirecting happened).
        self.attempts = 0

    @property
    def leader_guess(self) -> int:
        return self._target

    # -- connection ----------------------------------------------------------------------

    def _on_frame(self, conn: FramedConnection, item: Frame) -> None:
        if isinstance(item, ClientResponse | StatusReply):
            future = self._pending.pop(item.request_id, None)
            if future is not None and not future.done():
                future.set_result(item)

    def _on_close(self, conn: FramedConnection) -> None:
        if conn is self._conn:
            self._conn = None
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection closed"))
            self._pending.clear()

    async def _connection(self, node: int, timeout: float) -> FramedConnection:
        if self._conn is not None and self._conn_node == node and self._conn.is_open:
            return self._conn
        await self.close()
        host, port = self.addresses[node]
        self._conn = await connect(
            host, port, Hello("client"), self._on_frame, self._on_close, timeout=timeout
        )
        self._conn_node = node
        return self._conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection closed"))
            self._pending.clear()

    def _next_node(self, node: int) -> int:
        return self._order[(self._order.index(node) + 1) % len(self._order)]

    async def _exchange(self, node: int, request: Frame, request_id: int, limit: float) -> Frame:
        conn = await self._connection(node, limit)
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        conn.send(request)
        try:
            return await asyncio.wait_for(future, limit)
        finally:
            self._pending.pop(request_id, None)

    # -- requests ------------------------------------------------------------------------

    async def call(self, payload: Payload, timeout: float | None = None) -> Reply:
        """Send ``payload`` until a definite reply; :class:`OutcomeUnknown` at the deadline."""
        budget = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        node = self._target
        last_problem = "no attempt made"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OutcomeUnknown(
                    f"no definite answer within {budget:g} s (last: {last_problem})"
                )
            request_id = next(self._ids)
            request = ClientRequest(0, request_id, payload)
            self.attempts += 1
            try:
                response = await self._exchange(
                    node, request, request_id, min(self.attempt_timeout, remaining)
                )
            except (OSError, ConnectionError) as exc:
                last_problem = f"node {node}: {exc.__class__.__name__}"
                node = self._next_node(node)
                await asyncio.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
                continue
            except TimeoutError:
                last_problem = f"node {node} did not answer in time"
                await self.close()
                node = self._next_node(node)
                continue
            assert isinstance(response, ClientResponse)
            reply = response.reply
            if reply.error == "not-leader":
                last_problem = f"node {node} is not the leader"
                if reply.leader is not None and reply.leader in self.addresses:
                    node = reply.leader
                else:
                    node = self._next_node(node)
                    await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
                continue
            if reply.error in RETRY_ERRORS or (
                reply.outcome == "info" and reply.error not in FINAL_ERRORS
            ):
                last_problem = f"node {node}: {reply.error or 'unknown outcome'}"
                await asyncio.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
                continue
            self._target = node
            return reply

    async def open_session(self) -> int:
        reply = await self.call(OpenSession())
        if reply.outcome != "ok" or not isinstance(reply.value, int):
            raise OutcomeUnknown(f"could not open a session: {reply}")
        self.session, self.seq = reply.value, 0
        return reply.value

    async def execute(self, op: KVOperation, timeout: float | None = None) -> Reply:
        """Run ``op`` in this client's session (opening one first if needed)."""
        if self.session is None:
            await self.open_session()
        assert self.session is not None
        self.seq += 1
        return await self.call(Command(self.session, self.seq, op), timeout)

    async def status(self, node: int, timeout: float = 1.0) -> dict[str, Value]:
        """What ``node`` reports about itself (raises ``OSError``/``TimeoutError``)."""
        request_id = next(self._ids)
        reply = await self._exchange(node, StatusRequest(request_id), request_id, timeout)
        assert isinstance(reply, StatusReply)
        return reply.as_dict()

    async def __aenter__(self) -> ClusterClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
