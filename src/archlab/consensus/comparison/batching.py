"""Batching for any consensus server: commands that arrive together share one round (codex 5.3).

:class:`BatchingServer` wraps a :class:`~archlab.consensus.server.ConsensusServer` (Raft's,
Multi-Paxos's, Zab's) and holds the client requests it receives until the server's next tick —
a batching window of one tick — and then hands them to the server all at once. The core
appends them together, and the next Ready sends them in one message per peer (up to the
protocol's per-message limit) behind one fsync: group commit. Without it a server proposes,
persists and sends each command the moment it arrives. With ``release_on_messages`` the window
also closes at every message from a peer (adaptive batching, as in etcd's proposal loop: the
commands that arrived during one replication round share the next).
"""

from __future__ import annotations

from typing import Any

from archlab.consensus.client import ClientRequest
from archlab.consensus.server import Action, ConsensusServer


class BatchingServer:
    """A :class:`ConsensusServer` that batches client requests (see the module docstring)."""

    def __init__(self, inner: ConsensusServer, release_on_messages: bool = False) -> None:
        self.inner = inner
        self.release_on_messages = release_on_messages
        self._held: list[ClientRequest] = []
        #: How many batches were handed over, and how many requests they held.
        self.batches = 0
        self.batched_requests = 0

    @property
    def id(self) -> int:
        return self.inner.id

    @property
    def persist_problems(self) -> list[str]:
        problems = getattr(self.inner, "persist_problems", None)
        return problems if isinstance(problems, list) else []

    def leadership(self) -> int | None:
        return self.inner.leadership()

    def leader_hint(self) -> int | None:
        return self.inner.leader_hint()

    def tick(self) -> None:
        self._release()
        self.inner.tick()

    def receive(self, message: Any) -> None:
        if self.release_on_messages:
            self._release()
        self.inner.receive(message)

    def request(self, request: ClientRequest) -> None:
        self._held.append(request)

    def drain(self) -> list[Action]:
        return self.inner.drain()

    def _release(self) -> None:
        if not self._held:
            return
        held, self._held = self._held, []
        self.batches += 1
        self.batched_requests += len(held)
        for request in held:
            self.inner.request(request)
