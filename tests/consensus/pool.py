"""The message pool, partitions, ticks and payloads of the Paxos and Zab test clusters.

``tests/consensus/paxos/cluster.py`` and ``tests/consensus/zab/cluster.py`` drive N sans-IO
nodes the same way: sent messages wait in :attr:`PooledCluster.pool` until the test delivers,
drops or duplicates them; a partition is a map of node to group; ticks go to one node or to all;
proposals carry the next payload of one client session (opened by the first). Each protocol's
cluster inherits this and supplies :meth:`PooledCluster.process` (take and carry out the node's
Readies) and the rest of its own bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from archlab.consensus.client import Command, OpenSession, Payload, Write, encode_payload


class _Node(Protocol):
    def step(self, message: Any) -> None: ...

    def tick(self) -> None: ...


class PooledCluster:
    """A mixin; the subclass sets ``nodes``, ``pool``, ``groups``, ``session`` and
    ``_next_payload``."""

    nodes: dict[int, Any]
    pool: list[Any]
    groups: dict[int, int]
    session: int | None
    _next_payload: int

    def process(self, node_id: int) -> None:
        raise NotImplementedError

    # -- network --------------------------------------------------------------------------

    def connected(self, a: int, b: int) -> bool:
        return self.groups.get(a, 0) == self.groups.get(b, 0)

    def partition(self, *groups: list[int]) -> None:
        self.groups = {node: number for number, group in enumerate(groups) for node in group}

    def heal(self) -> None:
        self.groups = {}

    def deliver_at(self, position: int) -> None:
        self.deliver(self.pool.pop(position))

    def deliver(self, message: Any) -> None:
        node: _Node | None = self.nodes.get(message.dst)
        if node is None or not self.connected(message.src, message.dst):
            return
        node.step(message)
        self.process(message.dst)

    def deliver_all(self, max_messages: int = 100_000) -> int:
        count = 0
        while self.pool and count < max_messages:
            self.deliver_at(0)
            count += 1
        return count

    def deliver_where(self, predicate: Callable[[Any], bool], limit: int = 10_000) -> int:
        count = 0
        while count < limit:
            position = next((i for i, m in enumerate(self.pool) if predicate(m)), None)
            if position is None:
                break
            self.deliver_at(position)
            count += 1
        return count

    def drop_where(self, predicate: Callable[[Any], bool]) -> int:
        before = len(self.pool)
        self.pool = [m for m in self.pool if not predicate(m)]
        return before - len(self.pool)

    # -- time and clients -----------------------------------------------------------------

    def tick(self, node_id: int, times: int = 1) -> None:
        for _ in range(times):
            node: _Node | None = self.nodes[node_id]
            if node is None:
                return
            node.tick()
            self.process(node_id)

    def tick_all(self, times: int = 1) -> None:
        for _ in range(times):
            for node_id in list(self.nodes):
                self.tick(node_id)

    def next_payload(self) -> bytes:
        self._next_payload += 1
        payload: Payload
        if self.session is None:
            payload = OpenSession()
        else:
            key = f"k{self._next_payload % 3}"
            payload = Command(self.session, self._next_payload, Write(key, self._next_payload))
        return encode_payload(payload)
