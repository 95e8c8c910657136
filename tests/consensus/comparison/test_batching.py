"""Batching: requests wait for the next tick, and then cost fewer messages and fsyncs each."""

from __future__ import annotations

from typing import Any

from archlab.consensus.client import ClientRequest, OpenSession
from archlab.consensus.comparison.batching import BatchingServer
from archlab.consensus.comparison.clusters import ClusterSpec
from archlab.consensus.comparison.measure import measure
from archlab.consensus.server import Action


class Recorder:
    """A ConsensusServer that records the order of its inputs."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @property
    def id(self) -> int:
        return 1

    def tick(self) -> None:
        self.calls.append("tick")

    def receive(self, message: Any) -> None:
        self.calls.append("receive")

    def request(self, request: ClientRequest) -> None:
        self.calls.append(f"request {request.request_id}")

    def drain(self) -> list[Action]:
        return []

    def leadership(self) -> int | None:
        return 7

    def leader_hint(self) -> int | None:
        return 1


def request(number: int) -> ClientRequest:
    return ClientRequest("c0", number, OpenSession())


def test_requests_wait_for_the_next_tick_and_go_in_together() -> None:
    inner = Recorder()
    server = BatchingServer(inner)
    server.request(request(1))
    server.request(request(2))
    server.receive("a message")
    assert inner.calls == ["receive"]
    server.tick()
    assert inner.calls == ["receive", "request 1", "request 2", "tick"]
    assert (server.batches, server.batched_requests) == (1, 2)
    assert server.leadership() == 7 and server.leader_hint() == 1 and server.id == 1


def test_adaptive_batching_releases_at_every_peer_message() -> None:
    inner = Recorder()
    server = BatchingServer(inner, release_on_messages=True)
    server.request(request(1))
    server.receive("a message")
    assert inner.calls == ["request 1", "receive"]


def test_batching_divides_messages_and_fsyncs_per_command_for_every_protocol() -> None:
    for protocol in ("raft", "paxos", "zab"):
        plain = measure(ClusterSpec(protocol, 3), seed=2, ops=120, clients=16)
        batched = measure(ClusterSpec(protocol, 3, batching=True), seed=2, ops=120, clients=16)
        assert plain.commands > 60 and batched.commands > 60
        assert batched.messages_per_command < plain.messages_per_command / 2, protocol
        assert batched.fsyncs_per_command < plain.fsyncs_per_command / 2, protocol
