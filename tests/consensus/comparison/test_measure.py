"""The measurement: one round trip for every protocol, messages growing with the cluster."""

from __future__ import annotations

import pytest

from archlab.consensus.comparison.clusters import PROTOCOLS, ClusterSpec
from archlab.consensus.comparison.measure import Tally, measure, message_delays
from archlab.consensus.simhost import RunObserver
from archlab.sim.process import Send, Sync


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_protocol_replies_after_one_round_trip_to_a_majority(protocol: str) -> None:
    assert message_delays(ClusterSpec(protocol, 3), seed=1) == pytest.approx(2.0, abs=0.01)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_messages_per_command_grow_with_the_followers(protocol: str) -> None:
    small = measure(ClusterSpec(protocol, 3), seed=1, ops=100, clients=4)
    large = measure(ClusterSpec(protocol, 5), seed=1, ops=100, clients=4)
    assert small.commands > 50 and large.commands > 50
    ratio = large.messages_per_command / small.messages_per_command
    assert 1.5 < ratio < 2.6  # (5 - 1) / (3 - 1) = 2
    assert small.latencies and small.latency_ms(0.5) < small.latency_ms(0.99) + 1e-9


def test_the_tally_counts_server_messages_and_fsyncs_once_a_leader_is_known() -> None:
    observer = RunObserver()
    tally = Tally(frozenset({"n0", "n1"}), observer, settle=0.1)
    effects = [Send("n1", "x"), Send("c0", "reply"), Sync()]
    tally.count(0.0, effects)
    assert tally.since is None and not tally.messages
    observer.saw_leader(1, "n0", 0.0)
    tally.count(0.5, effects)
    assert tally.since == pytest.approx(0.6)
    tally.count(0.55, effects)
    assert not tally.messages
    tally.count(0.7, effects)
    assert dict(tally.messages) == {"str": 1} and tally.fsyncs == 1


def test_an_unknown_protocol_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown protocol"):
        ClusterSpec("viewstamped", 3)
