"""WhatsApp (10.1): the supervisor, the durable inbox, the chat server's isolation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from archlab.cases.whatsapp.client import ChatClient
from archlab.cases.whatsapp.inbox import Inbox
from archlab.cases.whatsapp.measure_isolation import (
    IsolationMeasurement,
    judge_whatsapp_isolation,
)
from archlab.cases.whatsapp.measure_push import PushMeasurement, PushRun, judge_push_tickle
from archlab.cases.whatsapp.push import PushConfig, run as run_push
from archlab.cases.whatsapp.server import ChatServer
from archlab.cases.whatsapp.supervisor import Supervisor


def test_one_for_one_restarts_only_the_crashed_child_and_gives_up_past_the_intensity() -> None:
    async def scenario() -> None:
        now = [0.0]
        supervisor = Supervisor(intensity=2, period=10.0, clock=lambda: now[0])
        runs = {"a": 0, "b": 0}
        crash = asyncio.Event()

        def child(name: str):  # type: ignore[no-untyped-def]
            async def body() -> None:
                runs[name] += 1
                if name == "a":
                    await crash.wait()
                    crash.clear()
                    raise RuntimeError("boom")
                await asyncio.sleep(3600)

            return body

        supervisor.start_child("a", child("a"))
        supervisor.start_child("b", child("b"))
        for expected in (2, 3):
            crash.set()
            await asyncio.sleep(0.01)
            assert runs == {"a": expected, "b": 1}, "only the crashed child restarts"
        crash.set()
        await asyncio.sleep(0.01)
        assert supervisor.failed is not None and "intensity 2" in supervisor.failed
        assert supervisor.children() == []
        with pytest.raises(RuntimeError):
            supervisor.start_child("c", child("b"))

    asyncio.run(scenario())


def test_restarts_outside_the_period_do_not_count() -> None:
    async def scenario() -> None:
        now = [0.0]
        supervisor = Supervisor(intensity=1, period=1.0, clock=lambda: now[0])
        crash = asyncio.Event()

        async def crashing() -> None:
            await crash.wait()
            crash.clear()
            raise RuntimeError("transient")

        supervisor.start_child("x", crashing)
        for _ in range(5):
            now[0] += 2.0
            crash.set()
            await asyncio.sleep(0.01)
        assert supervisor.failed is None and supervisor.restarts >= 5
        await supervisor.shutdown()

    asyncio.run(scenario())


def test_the_inbox_keeps_order_and_survives_a_restart(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path)
    for i in range(5):
        inbox.append("bob", "alice", i, bytes([i]) * 3)
    assert inbox.acknowledge("bob", 2) == 2
    inbox.close()
    inbox = Inbox(tmp_path)
    assert [(s.seq, s.msg_id) for s in inbox.pending("bob")] == [(3, 2), (4, 3), (5, 4)]
    assert inbox.append("bob", "carol", 9, b"") == 6, "the sequence continues after a restart"
    assert inbox.pending("bobby") == []
    inbox.close()


async def _running(tmp_path: Path) -> ChatServer:
    server = ChatServer(tmp_path)
    await server.start()
    return server


def test_offline_messages_arrive_in_order_on_reconnect_with_opaque_payloads(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = await _running(tmp_path / "db")
        tickled: list[str] = []
        server.on_tickle = tickled.append
        alice, bob = ChatClient("alice"), ChatClient("bob")
        try:
            await alice.connect(server.port)
            blobs = [bytes([i, 255 - i, 0, 10]) * 50 for i in range(20)]  # any bytes at all
            for blob in blobs:
                await alice.send("bob", blob)
            await asyncio.sleep(0.1)
            assert len(alice.sent_receipts) == 20 and tickled == ["bob"] * 20
            await bob.connect(server.port)
            for _ in range(100):
                if len(bob.received) == 20:
                    break
                await asyncio.sleep(0.02)
            assert [p for _, _, p in bob.received] == blobs
            await alice.send("bob", b"online now")
            await asyncio.sleep(0.1)
            assert bob.received[-1] == ("alice", 21, b"online now")
        finally:
            await alice.close()
            await bob.close()
            await server.stop()

    asyncio.run(scenario())


def test_a_crashed_actor_restarts_and_nobody_else_notices(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = await _running(tmp_path / "db")
        clients = [ChatClient(f"u{i}") for i in range(6)]
        try:
            for client in clients:
                await client.connect(server.port)
            assert server.crash("u0")
            for i, client in enumerate(clients):
                await client.send(f"u{(i + 1) % 6}", f"hello {i}".encode())
            await asyncio.sleep(0.2)
            assert server.supervisor.restarts == 1
            assert all(not c.errors and not c.dropped for c in clients)
            assert all(len(c.received) == 1 for c in clients), "u0's actor came back"
        finally:
            for client in clients:
                await client.close()
            await server.stop()

    asyncio.run(scenario())


def test_frames_queued_behind_the_poison_message_are_not_lost(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = await _running(tmp_path / "db")
        alice, bob = ChatClient("alice"), ChatClient("bob")
        try:
            await alice.connect(server.port)
            await bob.connect(server.port)
            server.crash("alice")
            ids = [await alice.send("bob", f"m{i}".encode()) for i in range(30)]
            for _ in range(100):
                if len(bob.received) == 30:
                    break
                await asyncio.sleep(0.02)
            assert alice.sent_receipts == set(ids) and server.supervisor.restarts == 1
            assert [p for _, _, p in bob.received] == [f"m{i}".encode() for i in range(30)]
        finally:
            await alice.close()
            await bob.close()
            await server.stop()

    asyncio.run(scenario())


def test_bad_frames_get_errors_and_the_connection_keeps_working(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = await _running(tmp_path / "db")
        client = ChatClient("eve")
        try:
            await client.connect(server.port)
            client.send_raw(b"not json")
            client.send_raw(b'{"t": "send", "to": "Bad User", "id": 1, "payload": "AA=="}')
            client.send_raw(b'{"t": "send", "to": "bob", "id": 1, "payload": "***"}')
            await client.send("bob", b"fine")
            await asyncio.sleep(0.1)
            assert len(client.errors) == 3 and client.sent_receipts == {1}
            assert not client.dropped
        finally:
            await client.close()
            await server.stop()

    asyncio.run(scenario())


def test_tickle_and_fetch_delivers_everything_in_order_where_payloads_do_not(
    tmp_path: Path,
) -> None:
    config = PushConfig(messages=150, loss=0.2, mean_delay=2.0)
    tickle = run_push(config, "tickle", tmp_path / "t", 4)
    payload = run_push(config, "payload", tmp_path / "p", 4)
    assert tickle.notifications_lost == payload.notifications_lost > 0, "same provider"
    assert (tickle.lost, tickle.out_of_order, tickle.displayed) == (0, 0, 150)
    assert payload.lost == payload.notifications_lost and payload.out_of_order > 0


def _isolation(harm: int, lost: int, per_conn: float, restarts: int = 1) -> IsolationMeasurement:
    return IsolationMeasurement(
        50, 400, 1, restarts, harm, lost, 1500, per_conn, 20000, 64 * 2**30 / per_conn
    )


@pytest.mark.parametrize(
    ("measured", "verdict"),
    [
        (_isolation(0, 0, 11072.0), "holds"),  # quick profile, this machine
        (_isolation(0, 0, 48000.0), "nuanced"),  # thread-per-connection sized
        (_isolation(0, 0, 11072.0, restarts=0), "nuanced"),
        (_isolation(49, 0, 11072.0), "refuted"),  # one shared event loop that crashed
        (_isolation(0, 12, 11072.0), "refuted"),
    ],
)
def test_the_isolation_judge_reaches_each_verdict(
    measured: IsolationMeasurement, verdict: str
) -> None:
    judgement = judge_whatsapp_isolation(measured)
    assert judgement.verdict == verdict, judgement.reason
    assert all(e.threshold is not None and e.threshold.source for e in judgement.evidence)


def _push(t_lost: int, t_late: int, p_lost: int, p_late: int) -> PushMeasurement:
    return PushMeasurement(
        300, 2.0, [PushRun(0.2, t_lost, t_late, 0.9, p_lost, p_late, 1.9, p_lost)]
    )


@pytest.mark.parametrize(
    ("measured", "verdict"),
    [
        (_push(0, 0, 59, 84), "holds"),  # quick profile at 20% loss
        (_push(0, 0, 0, 0), "nuanced"),  # a provider that never failed
        (_push(3, 0, 59, 84), "refuted"),  # a tickle mode that did not fetch at the end
        (_push(0, 5, 59, 84), "refuted"),
    ],
)
def test_the_push_judge_reaches_each_verdict(measured: PushMeasurement, verdict: str) -> None:
    judgement = judge_push_tickle(measured)
    assert judgement.verdict == verdict, judgement.reason
    assert all(e.threshold is not None and e.threshold.source for e in judgement.evidence)
