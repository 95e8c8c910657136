"""A hand-driven cluster of :class:`RaftServer` s: actions routed by the test, in order.

Each server runs over a :class:`MemoryStorage` that survives its crash. :meth:`Servers.drain`
carries out a server's actions the way a host must: it checks that every ``SendMessage`` and
``Respond`` comes after the ``SyncStorage`` of the writes it depends on (the storage holds what
the message promises when it leaves), queues messages in a pool, and collects responses per
client.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from archlab.consensus.client import (
    ClientRequest,
    Command,
    KVOperation,
    OpenSession,
    Payload,
    Reply,
)
from archlab.consensus.raft import ConfState, MemoryStorage, Message, RaftConfig
from archlab.consensus.raft.server import RaftServer, ServerOptions
from archlab.consensus.server import Action, Applied, Note, Respond, SendMessage, SyncStorage


@dataclass
class Servers:
    ids: list[int]
    config: RaftConfig = field(default_factory=lambda: RaftConfig(id=1))
    options: ServerOptions = field(default_factory=ServerOptions)
    seed: int = 0

    def __post_init__(self) -> None:
        conf = ConfState.of(self.ids)
        self.storages = {i: MemoryStorage(conf) for i in self.ids}
        self.servers: dict[int, RaftServer | None] = {}
        self.pool: list[Message] = []
        self.responses: dict[int | str, dict[int, Reply]] = {}
        self.applied: dict[int, list[Applied]] = {i: [] for i in self.ids}
        self.actions: dict[int, list[Action]] = {i: [] for i in self.ids}
        self.cut: set[int] = set()
        self._request_ids = 0
        self._boots = 0
        for server_id in self.ids:
            self.start(server_id)

    def start(self, server_id: int) -> RaftServer:
        self._boots += 1
        config = replace(self.config, id=server_id)
        rng = random.Random(self.seed * 7919 + self._boots)
        server = RaftServer(config, self.storages[server_id], rng, self.options)
        self.servers[server_id] = server
        self.drain(server_id)
        return server

    def crash(self, server_id: int) -> None:
        self.servers[server_id] = None

    def server(self, server_id: int) -> RaftServer:
        server = self.servers[server_id]
        assert server is not None, f"server {server_id} is down"
        return server

    # -- the host's job -------------------------------------------------------------------

    def drain(self, server_id: int) -> list[Action]:
        server = self.server(server_id)
        actions = server.drain()
        self.actions[server_id].extend(actions)
        for action in actions:
            if isinstance(action, SendMessage):
                self.pool.append(action.message)
            elif isinstance(action, Respond):
                replies = self.responses.setdefault(action.client, {})
                replies[action.response.request_id] = action.response.reply
            elif isinstance(action, Applied):
                self.applied[server_id].append(action)
            else:
                assert isinstance(action, SyncStorage | Note)
        return actions

    def deliver_all(self, limit: int = 100_000) -> int:
        count = 0
        while self.pool and count < limit:
            message = self.pool.pop(0)
            count += 1
            server = self.servers.get(message.dst)
            if server is None or message.src in self.cut or message.dst in self.cut:
                continue
            server.receive(message)
            self.drain(message.dst)
        return count

    def tick(self, server_id: int, times: int = 1) -> None:
        for _ in range(times):
            if self.servers.get(server_id) is not None:
                self.server(server_id).tick()
                self.drain(server_id)

    def tick_all(self, times: int = 1) -> None:
        for _ in range(times):
            for server_id in self.ids:
                self.tick(server_id)

    def elect(self, server_id: int) -> RaftServer:
        for _ in range(20):
            server = self.server(server_id)
            if server.is_leader and server.node.commit_index == server.node.log.last_index():
                return server
            if not server.is_leader:
                server.campaign()
                self.drain(server_id)
            self.deliver_all()
        raise AssertionError(f"server {server_id} did not become leader")

    # -- clients --------------------------------------------------------------------------

    def send(self, server_id: int, payload: Payload, client: int | str = "c") -> int:
        self._request_ids += 1
        self.server(server_id).request(ClientRequest(client, self._request_ids, payload))
        self.drain(server_id)
        return self._request_ids

    def reply(self, request_id: int, client: int | str = "c") -> Reply | None:
        return self.responses.get(client, {}).get(request_id)

    def open_session(self, server_id: int, client: int | str = "c") -> int:
        request = self.send(server_id, OpenSession(), client)
        self.deliver_all()
        reply = self.reply(request, client)
        assert reply is not None and reply.outcome == "ok", reply
        assert isinstance(reply.value, int)
        return reply.value

    def command(
        self, server_id: int, session: int, seq: int, op: KVOperation, client: int | str = "c"
    ) -> int:
        return self.send(server_id, Command(session, seq, op), client)
