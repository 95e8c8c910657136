"""The host carries out a server's actions in order: nothing after a sync leaves before it."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from archlab.consensus.client import ClientRequest, ClientResponse, Reply
from archlab.consensus.raft.messages import Heartbeat
from archlab.consensus.server import Action, Note, Respond, SendMessage, SyncStorage
from archlab.runtime.host import NodeHost


class _Recorder:
    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name = log, name

    def send_many(self, items: list[Any]) -> None:
        self.log.extend(f"{self.name}:{type(i).__name__}" for i in items)


class _Server:
    id = 1

    def __init__(self, actions: list[Action]) -> None:
        self.actions = actions

    def tick(self) -> None: ...
    def receive(self, message: Any) -> None: ...
    def request(self, request: ClientRequest) -> None: ...

    def drain(self) -> list[Action]:
        out, self.actions = self.actions, []
        return out

    def leadership(self) -> int | None:
        return 1

    def leader_hint(self) -> int | None:
        return 1


def _host(actions: list[Action], log: list[str], sync_seconds: float) -> NodeHost:
    def sync() -> None:
        log.append("sync-start")
        time.sleep(sync_seconds)  # in a worker thread, like fdatasync
        assert threading.current_thread() is not threading.main_thread()
        log.append("sync-done")

    host = NodeHost(_Server(actions), 1, {1: ("127.0.0.1", 1)}, sync=sync)
    host._links = {2: _Recorder(log, "peer2")}  # type: ignore[dict-item]
    host._clients = {7: _Recorder(log, "client7")}  # type: ignore[dict-item]
    return host


def test_actions_after_a_sync_wait_for_it_and_those_before_do_not() -> None:
    log: list[str] = []
    reply = Respond(7, ClientResponse(1, Reply("ok", 1)))
    actions: list[Action] = [
        SendMessage(2, Heartbeat(1, 2, 1, 0, 1)),
        SyncStorage(),
        SendMessage(2, Heartbeat(1, 2, 1, 0, 2)),
        reply,
        Note("x"),
        SyncStorage(),
        reply,
    ]
    host = _host(actions, log, 0.02)
    asyncio.run(host._execute(host.server.drain()))
    assert log == [
        "peer2:Heartbeat",
        "sync-start",
        "sync-done",
        "peer2:Heartbeat",
        "client7:ClientResponse",
        "sync-start",
        "sync-done",
        "client7:ClientResponse",
    ]
    assert host.syncs == 2


def test_the_loop_keeps_reading_while_a_sync_runs() -> None:
    """Group commit: the event loop is free during the fsync, so input queues up meanwhile."""
    log: list[str] = []
    host = _host([SyncStorage(), SendMessage(2, Heartbeat(1, 2, 1, 0, 1))], log, 0.2)

    async def go() -> float:
        ticker_ran = 0.0

        async def other_work() -> None:
            nonlocal ticker_ran
            await asyncio.sleep(0.05)
            ticker_ran = time.monotonic()
            log.append("other")

        started = time.monotonic()
        await asyncio.gather(host._execute(host.server.drain()), other_work())
        return ticker_ran - started

    ran_after = asyncio.run(go())
    assert ran_after < 0.15
    assert log.index("other") < log.index("sync-done") < log.index("peer2:Heartbeat")
