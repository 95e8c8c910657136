"""The live cluster's state machine, without a browser: partitions, rewind, reproduction."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from archlab.errors import ConfigError
from archlab.web.live import Action, LiveCluster, LiveSpec, decode_actions, encode_actions


def _same(a: LiveCluster, b: LiveCluster) -> bool:
    return json.dumps(a.snapshot(), sort_keys=True) == json.dumps(b.snapshot(), sort_keys=True)


def test_isolating_the_raft_leader_elects_another_and_heal_catches_it_up() -> None:
    live = LiveCluster.start(LiveSpec("raft", seed=1), step=150)
    old = live.leader()
    assert old is not None
    live.act("write", "k0", "3")
    live.act("isolate", old)
    live.advance(400)
    new = live.leader()
    assert new is not None and new != old
    terms = {n["address"]: n["term"] for n in live.snapshot()["nodes"]}
    assert terms[new] > terms[old]  # the cut-off server never saw the new term
    assert live.snapshot()["isolated"] == [old]
    live.act("heal")
    live.act("read", "k0")
    live.advance(300)
    state = live.snapshot()
    assert {n["term"] for n in state["nodes"]} == {terms[new]}
    assert [e["type"] for e in state["history"]] == ["invoke", "ok", "invoke", "ok"]
    assert state["history"][-1]["value"] == 3
    assert live.check()["valid"] is True


def test_rewind_is_a_replay_identical_to_what_was_shown() -> None:
    live = LiveCluster.start(LiveSpec("raft", seed=4), step=120)
    live.act("write", "k1", "2")
    live.advance(40)
    live.act("crash", "n1")
    live.advance(100)
    at_260 = LiveCluster.start(live.spec, live.actions, live.step)
    assert _same(live, at_260)
    live.goto(130)  # back, before the crash
    assert live.world.hosts["n1"].status == "up"
    live.goto(260)  # forward again: the recorded crash is replayed
    assert _same(live, at_260)


def test_acting_in_the_past_discards_the_future() -> None:
    live = LiveCluster.start(LiveSpec("raft", seed=2), step=100)
    live.act("crash", "n0")
    live.advance(50)
    live.goto(60)
    live.act("skew", "n2", "0.5")
    assert [a.kind for a in live.actions] == ["skew"]


def test_the_command_reproduces_the_run() -> None:
    live = LiveCluster.start(LiveSpec("raft", seed=3), step=100)
    live.act("isolate", "n0")
    live.advance(10)
    command = live.command()
    assert command == "archlab live raft --seed 3 --actions 100:isolate:n0 --step 110"
    actions = decode_actions(command.split("--actions ")[1].split(" ")[0])
    assert _same(live, LiveCluster.start(LiveSpec("raft", seed=3), actions, 110))


@pytest.mark.parametrize("protocol", ["paxos", "zab"])
def test_paxos_and_zab_run_live_too(protocol: str) -> None:
    live = LiveCluster.start(LiveSpec(protocol, seed=1), step=200)
    assert live.leader() is not None
    live.act("write", "k2", "4")
    live.advance(100)
    state = live.snapshot()
    assert state["history"][-1]["type"] == "ok"
    for node in state["nodes"]:  # every replica's log ends with the write
        assert node["log"][-1]["text"].endswith('"k2",4]')
        assert node["commit"] == node["log"][-1]["index"]


def test_messages_are_seen_in_flight() -> None:
    live = LiveCluster.start(LiveSpec("raft", seed=1), step=150)
    seen = 0
    for _ in range(10):
        live.advance(1)
        seen += len(live.snapshot()["messages"])
    assert seen > 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("x:heal", "STEP:KIND"),
        ("5:explode", "KIND one of"),
        ("9:heal,3:heal", "must not decrease"),
    ],
)
def test_bad_actions_are_one_line_errors(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        decode_actions(text)


def test_bad_arguments_are_refused_and_not_recorded() -> None:
    live = LiveCluster.start(LiveSpec("raft", seed=1), step=10)
    with pytest.raises(ConfigError, match="name a server"):
        live.act("crash", "n9")
    with pytest.raises(ConfigError, match="key must be"):
        live.act("write", "zz", "1")
    assert live.actions == []
    with pytest.raises(ConfigError, match="protocol"):
        LiveSpec("pbft")


def test_actions_round_trip() -> None:
    actions = [Action(3, "isolate", ("n0",)), Action(9, "cas", ("k0", "1", "2"))]
    assert decode_actions(encode_actions(actions)) == actions


ACTION = st.one_of(
    st.tuples(
        st.sampled_from(["isolate", "crash", "restart"]), st.sampled_from(["n0", "n1", "n2"])
    ),
    st.tuples(
        st.just("skew"), st.sampled_from(["n0", "n1", "n2"]), st.sampled_from(["0.3", "-0.2"])
    ),
    st.tuples(st.just("heal")),
    st.tuples(st.just("write"), st.sampled_from(["k0", "k1"]), st.sampled_from(["1", "2"])),
    st.tuples(st.just("read"), st.sampled_from(["k0", "k1"])),
)


@settings(max_examples=12, deadline=None)
@given(
    protocol=st.sampled_from(["raft", "paxos", "zab"]),
    seed=st.integers(0, 50),
    script=st.lists(st.tuples(st.integers(0, 120), ACTION), max_size=6),
    back=st.integers(0, 400),
)
def test_any_run_replays_identically_and_its_history_is_linearizable(
    protocol: str, seed: int, script: list[tuple[int, tuple[str, ...]]], back: int
) -> None:
    live = LiveCluster.start(LiveSpec(protocol, seed))
    for gap, (kind, *args) in script:
        live.advance(gap)
        live.act(kind, *args)
    live.advance(150)
    seen = live.snapshot()
    assert _same(live, LiveCluster.start(live.spec, live.actions, live.step))
    live.goto(max(0, live.step - back))
    live.goto(seen["step"])
    assert json.dumps(live.snapshot(), sort_keys=True) == json.dumps(seen, sort_keys=True)
    assert live.check()["valid"] is not False
