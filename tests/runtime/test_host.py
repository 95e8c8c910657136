"""The host carries out a server's actions in order: nothing after a sync leaves before it."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

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

    async def go() -> None:
        async def other_work() -> None:
            await asyncio.sleep(0.05)  # a quarter of the 0.2 s sync
            log.append("other")

        await asyncio.gather(host._execute(host.server.drain()), other_work())

    asyncio.run(go())
    # the other task ran during the sync, not after it: the loop was not blocked
    assert log.index("other") < log.index("sync-done") < log.index("peer2:Heartbeat")


class _SendFirstHost(NodeHost):
    """A broken host: sends a whole batch first, then syncs (violates the Ready contract)."""

    async def _execute(self, actions: list[Any]) -> None:
        await super()._execute([a for a in actions if not isinstance(a, SyncStorage)])
        for action in actions:
            if isinstance(action, SyncStorage) and self._sync is not None:
                await asyncio.get_running_loop().run_in_executor(None, self._sync)


def _premature_sends(log: list[str], barrier_rounds: dict[int, int]) -> list[str]:
    """Messages logged before the sync they must wait for had completed.

    ``barrier_rounds`` maps a heartbeat round to how many syncs must be done before it leaves.
    """
    done = 0
    problems = []
    for line in log:
        if line == "sync-done":
            done += 1
        elif line.startswith("peer2:Heartbeat#"):
            round_ = int(line.split("#")[1])
            if done < barrier_rounds[round_]:
                problems.append(f"round {round_} sent after {done} syncs")
    return problems


@pytest.mark.parametrize("broken", [False, True])
def test_the_order_check_passes_the_host_and_catches_a_send_first_host(broken: bool) -> None:
    log: list[str] = []

    class Numbered(_Recorder):
        def send_many(self, items: list[Any]) -> None:
            self.log.extend(f"{self.name}:Heartbeat#{i.round}" for i in items)

    actions: list[Action] = [
        SendMessage(2, Heartbeat(1, 2, 1, 0, 1)),
        SyncStorage(),
        SendMessage(2, Heartbeat(1, 2, 1, 0, 2)),
        SyncStorage(),
        SendMessage(2, Heartbeat(1, 2, 1, 0, 3)),
    ]
    host = _host(actions, log, 0.01)
    if broken:
        host.__class__ = _SendFirstHost
    host._links = {2: Numbered(log, "peer2")}  # type: ignore[dict-item]
    asyncio.run(host._execute(host.server.drain()))
    problems = _premature_sends(log, {1: 0, 2: 1, 3: 2})
    assert bool(problems) is broken, (log, problems)
