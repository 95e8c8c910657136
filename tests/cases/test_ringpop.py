"""Ringpop (10.5): SWIM in the simulator and on UDP, the ring, forwarding, and the judge."""

from __future__ import annotations

import asyncio
import random

import pytest

from archlab.cases.ringpop.experiments import (
    RingpopMeasurement,
    SizePoint,
    judge_ringpop_membership,
)
from archlab.cases.ringpop.node import decode, encode
from archlab.cases.ringpop.ring import HashRing, moved_fraction
from archlab.cases.ringpop.serve import converged, start_cluster
from archlab.cases.ringpop.simulate import SwimCluster
from archlab.cases.ringpop.swim import Ack, Ping, PingReq, Swim, SwimConfig, Update


def false_faulty(cluster: SwimCluster) -> set[str]:
    """The checker: live members someone declared faulty."""
    return {
        m
        for (m, status), seen in cluster.seen.items()
        if status == "faulty" and seen and m not in cluster.crashed
    }


def test_a_crashed_member_is_suspected_then_declared_faulty_by_everyone() -> None:
    cluster = SwimCluster(16, seed=3)
    cluster.run_for(3)
    cluster.crash("m0005")
    start = cluster.now
    assert cluster.run_for(40, stop_when=lambda: cluster.everyone_sees("m0005", "faulty"))
    first = min(cluster.observers("m0005", "suspect").values()) - start
    assert first <= 6 * cluster.config.period
    assert not false_faulty(cluster)


def test_a_join_reaches_every_member() -> None:
    cluster = SwimCluster(32, seed=4)
    cluster.run_for(2)
    cluster.add("late", "m0000")
    assert cluster.run_for(30, stop_when=lambda: cluster.everyone_sees("late", "alive"))
    assert set(cluster.nodes["late"].members) == {*cluster.names, "late"}


def test_refutation_keeps_live_members_alive_and_the_broken_variant_is_caught() -> None:
    healthy = SwimCluster(16, SwimConfig(refute=True), seed=5, loss=0.05)
    healthy.run_for(100)
    broken = SwimCluster(16, SwimConfig(refute=False), seed=5, loss=0.05)
    broken.run_for(100)
    assert len(false_faulty(broken)) > len(false_faulty(healthy))
    assert false_faulty(broken), "the checker must catch the variant without refutation"


def test_a_suspected_member_refutes_with_a_higher_incarnation() -> None:
    node = Swim("a", random.Random(1), SwimConfig(), 0.0, ["a", "b"])
    node.receive(0.1, "b", Ping(1, (Update("a", "suspect", 0),)))
    assert node.incarnation == 1
    ack = node.receive(0.2, "b", Ping(2))[0].message
    assert Update("a", "alive", 1) in ack.updates
    other = Swim("b", random.Random(2), SwimConfig(), 0.0, ["a", "b"])
    other.receive(0.0, "a", Ack(9, (Update("a", "suspect", 0),)))
    assert other.status("a") == "suspect"
    other.receive(0.0, "a", Ack(9, (Update("a", "alive", 1),)))
    assert other.status("a") == "alive"
    other.receive(0.0, "a", Ack(9, (Update("a", "suspect", 0),)))
    assert other.status("a") == "alive", "a stale suspicion does not override a refutation"


def test_ping_req_relays_the_ack_to_the_requester() -> None:
    helper = Swim("h", random.Random(1), SwimConfig(), 0.0, ["h", "a", "t"])
    (ping,) = helper.receive(0.0, "a", PingReq(7, "t"))
    assert ping.to == "t" and isinstance(ping.message, Ping)
    (ack,) = helper.receive(0.01, "t", Ack(ping.message.seq))
    assert ack.to == "a" and isinstance(ack.message, Ack) and ack.message.seq == 7


def test_messages_round_trip_and_garbage_is_refused() -> None:
    for message in (
        Ping(3, (Update("x", "suspect", 2),), 99),
        Ack(1, (), (Update("y", "alive", 0),)),
    ):
        assert decode(encode(message)) == message
    with pytest.raises(ValueError):
        decode(b'{"t": "Nope", "u": []}')
    with pytest.raises(ValueError):
        decode(b"\xff")


def test_a_join_moves_about_one_over_n_plus_one_of_the_keys() -> None:
    before = HashRing([f"n{i}" for i in range(9)])
    after = HashRing([*before.members, "n9"])
    keys = [f"k{i}" for i in range(20000)]
    assert 0.06 < moved_fraction(before, after, keys) < 0.14
    assert all(after.lookup(k) == "n9" for k in keys if before.lookup(k) != after.lookup(k))
    assert before.checksum != after.checksum


def test_a_cluster_on_udp_detects_a_crash_and_forwards_to_owners() -> None:
    async def scenario() -> None:
        config = SwimConfig(period=0.05, ping_timeout=0.025, suspicion_periods=4)
        nodes = await start_cluster(4, config, seed=1)
        try:
            assert await converged(nodes, 5.0)
            assert len(nodes[0].ring) == 4
            for i in range(12):
                owner = nodes[0].ring.lookup(f"trip-{i}")
                answer = await nodes[i % 4].handle_or_forward(f"trip-{i}")
                assert answer == f"{owner} handled trip-{i}"
            victim = nodes.pop()
            await victim.stop()
            for _ in range(250):
                if all(n.swim is not None and n.swim.status(victim.me) == "faulty" for n in nodes):
                    break
                await asyncio.sleep(0.02)
            assert all(n.swim is not None and n.swim.status(victim.me) == "faulty" for n in nodes)
            assert await converged(nodes, 5.0)
            answers = [await nodes[0].handle_or_forward(f"trip-{i}") for i in range(12)]
            assert not any(victim.me in a for a in answers)
        finally:
            for node in nodes:
                await node.stop()

    asyncio.run(scenario())


def test_a_forward_with_a_different_ring_is_refused_then_retried_after_convergence() -> None:
    async def scenario() -> None:
        config = SwimConfig(period=0.05, ping_timeout=0.025, suspicion_periods=3)
        nodes = await start_cluster(3, config, seed=2)
        try:
            assert await converged(nodes, 5.0)
            sender, owner = nodes[0], nodes[1]
            assert sender.swim is not None
            ghost = "127.0.0.1:9"  # a member only the sender believes in; nobody answers it
            sender.swim.receive(0.0, owner.me, Ack(0, (Update(ghost, "alive", 0),)))
            key = next(
                f"k{i}"
                for i in range(10000)
                if sender.ring.lookup(f"k{i}") == owner.me
                and HashRing(owner.ring.members).lookup(f"k{i}") == owner.me
            )
            answer = await sender.handle_or_forward(key)
            assert answer == f"{owner.me} handled {key}"
            assert sender.retried >= 1 and owner.refused >= 1
        finally:
            for node in nodes:
                await node.stop()

    asyncio.run(scenario())


def _measurement(**changes: object) -> RingpopMeasurement:
    sizes = [SizePoint(8, 2.0, 8.0, 1.5, 2.0), SizePoint(128, 2.1, 10.0, 4.5, 2.0)]
    base = dict(
        sizes=sizes,
        loss=0.1,
        false_positive_share_refute=0.06,
        false_positive_share_broken=1.0,
        members_declared_refute=0.06,
        members_declared_broken=0.97,
        suspicions_refute=29,
        ring_members=10,
        moved_share=0.092,
        expected_moved_share=0.0909,
    )
    base.update(changes)
    return RingpopMeasurement(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        ({}, "holds"),
        # a real quick-profile run's shape, but with fan-out limited to one neighbour: linear
        (
            {"sizes": [SizePoint(8, 2.0, 8.0, 2.0, 2.0), SizePoint(128, 2.1, 10.0, 40.0, 2.0)]},
            "refuted",
        ),
        (
            {"sizes": [SizePoint(8, 1.0, 8.0, 1.5, 2.0), SizePoint(128, 3.5, 10.0, 4.5, 2.0)]},
            "refuted",
        ),
        ({"false_positive_share_refute": 0.5}, "nuanced"),
        ({"false_positive_share_refute": 0.0}, "holds"),  # no false declaration at all
        (
            {"sizes": [SizePoint(8, 2.0, 8.0, 1.5, 2.0), SizePoint(128, 2.7, 10.0, 4.5, 2.0)]},
            "nuanced",
        ),
        ({"moved_share": 0.3}, "nuanced"),
    ],
)
def test_the_judge_reaches_each_verdict(changes: dict[str, object], verdict: str) -> None:
    judgement = judge_ringpop_membership(_measurement(**changes))
    assert judgement.verdict == verdict, judgement.reason
    assert all(e.threshold is not None and e.threshold.source for e in judgement.evidence)
