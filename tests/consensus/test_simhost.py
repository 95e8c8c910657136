"""Hosting consensus servers in the simulator: ticks from clocks, actions to effects, the stub."""

from __future__ import annotations

import random
from typing import Any

import pytest

from archlab.consensus.client import (
    Cas,
    ClientRequest,
    ClientResponse,
    Command,
    OpenSession,
    Read,
    Reply,
    Write,
)
from archlab.consensus.server import Action, Applied, Note, Respond, SendMessage, SyncStorage
from archlab.consensus.simclient import KVClientStub, kv_operation
from archlab.consensus.simhost import (
    Admin,
    RunObserver,
    ServerNode,
    TickClock,
    applied_record,
    server_address,
    server_id,
)
from archlab.sim import process as sim
from archlab.sim.client import Completion, Redirect
from archlab.sim.disk import Disk
from archlab.sim.process import Apply, NodeEnv, Op, Request, Send, SetTimer, Sync

SERVERS = ("n0", "n1", "n2")


class TestTickClock:
    def test_ticks_follow_the_local_clock(self) -> None:
        clock = TickClock(0.01, max_catch_up=50)
        clock.start(0.0, phase=0.004)
        assert clock.due(0.003) == 0
        assert clock.due(0.004) == 1
        assert clock.due(0.0141) == 1
        assert clock.next_delay(0.0141) == pytest.approx(0.0099)

    def test_a_pause_is_seen_as_the_ticks_it_missed(self) -> None:
        clock = TickClock(0.01, max_catch_up=50)
        clock.start(0.0, phase=0.01)
        assert clock.due(0.305) == 30

    def test_catching_up_is_capped(self) -> None:
        clock = TickClock(0.01, max_catch_up=25)
        clock.start(0.0, phase=0.01)
        assert clock.due(5.0) == 25
        assert clock.due(5.01) == 1, "the missed ticks beyond the cap are forgotten"

    def test_a_clock_stepping_back_passes_no_time(self) -> None:
        clock = TickClock(0.01, max_catch_up=50)
        clock.start(1.0, phase=0.01)
        assert clock.due(1.01) == 1
        assert clock.due(0.8) == 0
        assert clock.due(0.809) == 0
        assert clock.due(0.81) == 1

    def test_bad_arguments_are_refused(self) -> None:
        with pytest.raises(ValueError):
            TickClock(0.0, 10)


def test_server_ids_are_one_based_positions() -> None:
    assert server_id("n1", SERVERS) == 2
    assert server_address(3, SERVERS) == "n2"
    assert server_address(4, SERVERS) is None
    assert server_address(0, SERVERS) is None


class FakeServer:
    """A ConsensusServer that returns scripted actions and records its inputs."""

    def __init__(self, actions: list[Action], lead: int | None = None) -> None:
        self.actions = actions
        self.lead = lead
        self.ticks = 0
        self.received: list[Any] = []
        self.requests: list[ClientRequest] = []

    @property
    def id(self) -> int:
        return 1

    def tick(self) -> None:
        self.ticks += 1

    def receive(self, message: Any) -> None:
        self.received.append(message)

    def request(self, request: ClientRequest) -> None:
        self.requests.append(request)

    def drain(self) -> list[Action]:
        actions, self.actions = self.actions, []
        return actions

    def leadership(self) -> int | None:
        return self.lead

    def leader_hint(self) -> int | None:
        return self.lead and 1


def node_with(server: FakeServer, observer: RunObserver | None = None) -> ServerNode:
    env = NodeEnv("n0", SERVERS, Disk(), random.Random(1))
    return ServerNode(env, server, TickClock(0.01, 40), observer)


class TestServerNode:
    def test_actions_become_effects_in_order(self) -> None:
        reply = ClientResponse(7, Reply("ok", 1))
        server = FakeServer(
            [
                SyncStorage(),
                SendMessage(2, "hello"),
                Respond("c3", reply),
                Applied(4, 2, "command", b"x"),
                Note("leader"),
            ]
        )
        effects = node_with(server).on_message(0.0, "n1", "ping")
        assert server.received == ["ping"]
        assert [type(e) for e in effects] == [Sync, Send, sim.Reply, Apply, sim.Note]
        assert effects[1] == Send("n1", "hello")
        answer = effects[2]
        assert isinstance(answer, sim.Reply)
        assert (answer.request.id, answer.request.client, answer.result) == (7, "c3", reply.reply)
        assert effects[3] == Apply(4, "term 2 command x")

    def test_a_message_to_an_unknown_server_is_dropped(self) -> None:
        node = node_with(FakeServer([SendMessage(9, "lost")]))
        assert node.on_message(0.0, "n1", "x") == []

    def test_start_arms_the_tick_timer_and_timers_tick(self) -> None:
        server = FakeServer([])
        node = node_with(server)
        effects = node.start(0.0)
        timer = effects[-1]
        assert isinstance(timer, SetTimer) and 0 <= timer.delay <= 0.01
        node.on_timer(timer.delay, "tick")
        assert server.ticks == 1
        node.on_message(timer.delay + 0.1, "n1", "late")
        assert server.ticks == 11, "ten periods passed before the message: ticked first"

    def test_a_request_carries_its_envelope_as_the_payload(self) -> None:
        server = FakeServer([])
        node = node_with(server)
        payload = Command(5, 2, Read("k"))
        node.on_request(0.0, Request(3, "c1", Op("read", "k"), payload))
        assert server.requests == [ClientRequest("c1", 3, payload)]

    def test_a_request_without_a_kv_payload_is_refused(self) -> None:
        node = node_with(FakeServer([]))
        (effect,) = node.on_request(0.0, Request(3, "c1", Op("read", "k")))
        assert isinstance(effect, sim.Reply) and effect.result.error.startswith("malformed")

    def test_admin_messages_run_on_the_server(self) -> None:
        server = FakeServer([])
        effects = node_with(server).on_message(0.0, "nemesis", Admin(lambda s: f"ran on {s.id}"))
        assert effects == [sim.Note("ran on 1")]


class TestRunObserver:
    def test_two_leaders_in_one_term_violate_election_safety(self) -> None:
        observer = RunObserver()
        node_with(FakeServer([], lead=3), observer).on_message(0.0, "n1", "x")
        other = ServerNode(
            NodeEnv("n2", SERVERS, Disk(), random.Random(2)),
            FakeServer([], lead=3),
            TickClock(0.01, 40),
            observer,
        )
        other.on_message(0.0, "n1", "x")
        assert observer.violations == [
            "election safety: two leaders in term 3 (n0 and n2, the second at t=0.000)"
        ]

    def test_different_entries_at_one_index_violate_state_machine_safety(self) -> None:
        stopped: list[bool] = []
        observer = RunObserver(on_violation=lambda: stopped.append(True))
        observer.saw_applied(5, "term 2 command a", "n0")
        observer.saw_applied(5, "term 2 command a", "n1")
        assert observer.violations == []
        observer.saw_applied(5, "term 3 noop", "n2")
        assert "state machine safety: n2 applied [term 3 noop] at index 5" in observer.violations[0]
        assert stopped == [True]

    def test_history_only_mode_watches_replica_agreement_alone(self) -> None:
        observer = RunObserver(invariants=False)
        observer.saw_leader(1, "n0", 0.0)
        observer.saw_leader(1, "n1", 0.0)
        observer.persist_problem("n0", "a vote")
        assert observer.violations == []
        observer.saw_applied(1, "a", "n0")
        observer.saw_applied(1, "b", "n1")
        assert len(observer.violations) == 1

    def test_leader_events_are_told_to_listeners(self) -> None:
        observer = RunObserver()
        events: list[tuple[str, str, int]] = []
        observer.leader_listeners.append(lambda *event: events.append(event))
        server = FakeServer([], lead=4)
        node = node_with(server, observer)
        node.on_message(0.0, "n1", "x")
        server.actions = [Applied(1, 4, "noop", b"")]
        node.on_message(0.0, "n1", "x")
        server.actions = [Applied(2, 4, "noop", b"")]
        node.on_message(0.0, "n1", "x")
        assert events == [("elected", "n0", 4), ("first-commit", "n0", 4)]


def test_applied_records_are_equal_exactly_when_entries_are() -> None:
    a = applied_record(Applied(3, 1, "command", b'["w",1,1,"k",2]'))
    assert a == applied_record(Applied(3, 1, "command", b'["w",1,1,"k",2]'))
    assert a != applied_record(Applied(3, 2, "command", b'["w",1,1,"k",2]'))
    assert applied_record(Applied(3, 1, "noop", b"")) == "term 1 noop"


class TestClientStub:
    def stub(self) -> KVClientStub:
        return KVClientStub(SERVERS, random.Random(3))

    def test_the_first_attempt_opens_a_session_invisibly(self) -> None:
        stub = self.stub()
        op = Op("write", "k", 1)
        assert stub.envelope(op) == OpenSession()
        decision = stub.interpret(op, "n1", Reply("ok", 42))
        assert decision == Redirect("n1")
        assert stub.envelope(op) == Command(42, 1, Write("k", 1))

    def test_every_attempt_of_one_operation_carries_the_same_sequence_number(self) -> None:
        stub = self.stub()
        stub.session = 9
        op = Op("cas", "k", (1, 2))
        first = stub.envelope(op)
        assert stub.interpret(op, "n0", Reply("fail", error="not-leader", leader=3)) == Redirect(
            "n2"
        )
        assert stub.envelope(op) == first == Command(9, 1, Cas("k", 1, 2))
        assert stub.interpret(op, "n2", Reply("ok", 2)) == Completion("ok", (1, 2))
        assert stub.envelope(Op("read", "k")) == Command(9, 2, Read("k"))

    def test_a_timeout_moves_on_to_the_next_sequence_number_and_server(self) -> None:
        stub = self.stub()
        stub.session = 9
        op = Op("write", "k", 5)
        stub.envelope(op)
        stub.timed_out(op, "n0")
        assert stub.guess != "n0"
        assert stub.envelope(Op("write", "k", 6)) == Command(9, 2, Write("k", 6))

    def test_replies_map_to_history_outcomes(self) -> None:
        stub = self.stub()
        stub.session = 1
        read, cas = Op("read", "k"), Op("cas", "k", (0, 1))
        assert stub.interpret(read, "n0", Reply("ok", 4)) == Completion("ok", 4)
        assert stub.interpret(cas, "n0", Reply("fail", 3)) == Completion("fail", (0, 1))
        info = stub.interpret(cas, "n0", Reply("info", error="stale-sequence"))
        assert info == Completion("info", (0, 1))

    def test_an_expired_session_is_reopened_for_the_next_operation(self) -> None:
        stub = self.stub()
        stub.session = 1
        op = Op("write", "k", 1)
        stub.envelope(op)
        assert stub.interpret(op, "n0", Reply("info", error="session-expired")) == Completion(
            "info", 1
        )
        assert stub.envelope(Op("read", "k")) == OpenSession()

    def test_retry_and_busy_try_again_where_they_were(self) -> None:
        stub = self.stub()
        stub.session = 1
        op = Op("write", "k", 1)
        for error in ("retry", "busy"):
            assert stub.interpret(op, "n1", Reply("info", error=error)) == Redirect("n1", 0.01)

    def test_no_hint_means_another_server(self) -> None:
        stub = self.stub()
        decision = stub.interpret(Op("read", "k"), "n1", Reply("fail", error="not-leader"))
        assert isinstance(decision, Redirect) and decision.to in ("n0", "n2")

    def test_workload_operations_become_kv_operations(self) -> None:
        assert kv_operation(Op("read", "a")) == Read("a")
        assert kv_operation(Op("write", "a", 3)) == Write("a", 3)
        assert kv_operation(Op("cas", "a", (1, 2))) == Cas("a", 1, 2)
        with pytest.raises(ValueError):
            kv_operation(Op("append", "a", 1))
        with pytest.raises(ValueError):
            kv_operation(Op("write", "a", [1, 2]))
