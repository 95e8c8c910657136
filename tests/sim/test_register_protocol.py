"""The primary-backup register's mechanics: replication, failover, recovery, and the broken
variant's split brain. (Linearizability of its histories is tested in test_register_checked.)"""

from __future__ import annotations

from dataclasses import replace

from archlab.sim.nemesis import FaultPlan, NemesisSpec
from archlab.sim.records import read_state
from archlab.sim.register import STATE_FILE
from archlab.sim.scenario import get_scenario
from archlab.sim.world import RunResult, World


def build(variant: str = "correct", seed: int = 1, ops: int = 200, nemesis: str = "") -> World:
    scenario = get_scenario("register")
    config = replace(
        scenario.default_config(),
        seed=seed,
        ops=ops,
        nemesis=NemesisSpec.parse(nemesis),
        options=(("variant", variant),),
    )
    return scenario.build(config)


def notes(result: RunResult) -> list[tuple[float, str, str]]:
    return [(t, f["node"], f["text"]) for t, _, f in result.trace.of("note")]


def test_without_faults_every_operation_completes_and_replicas_agree() -> None:
    w = build()
    result = w.run()
    assert result.stats["ops"]["info"] == 0
    assert result.stats["ops"]["ok"] + result.stats["ops"]["fail"] == 200
    states = [read_state(h.disk, STATE_FILE) for h in w.hosts.values()]
    assert all(s is not None for s in states)
    assert len({(s["version"][0], s["version"][1], s["value"]) for s in states if s}) == 1


def test_a_crashed_primary_is_replaced_by_an_elected_backup() -> None:
    w = build(ops=300)
    w.nemesis.plan(FaultPlan("crash", 0.1, 0.6, targets=("n0",)))
    result = w.run()
    elected = [(t, node) for t, node, text in notes(result) if text == "primary of view 1"]
    assert len(elected) == 1
    at, node = elected[0]
    assert node in ("n1", "n2") and 0.1 < at < 0.1 + 0.4
    after = [e for e in result.history if e.type == "ok" and e.time and e.time > at]
    assert len(after) > 50, "clients are served by the new primary"
    assert w.hosts["n0"].status == "up"
    assert read_state(w.hosts["n0"].disk, STATE_FILE)["view"] >= 1  # type: ignore[index]


def test_a_wiped_replica_recovers_from_a_majority_before_taking_part() -> None:
    w = build(ops=300)
    w.nemesis.plan(FaultPlan("crash", 0.1, 0.05, targets=("n2",), restart="volatile"))
    result = w.run()
    texts = [text for _, node, text in notes(result) if node == "n2"]
    assert "recovering an empty disk" in texts
    assert any(t.startswith("recovered view 0") for t in texts)
    final = {a: read_state(h.disk, STATE_FILE) for a, h in w.hosts.items()}
    assert final["n2"] is not None and final["n2"]["voted"] == "?"


def test_a_partitioned_primary_of_the_correct_variant_stops_answering() -> None:
    w = build(ops=300)
    w.nemesis.plan(FaultPlan("partition", 0.1, 0.8, targets=("n0",), shape="isolate"))
    result = w.run()
    # Nothing n0 answered during the partition was a success: it cannot reach a majority.
    replies = [
        (t, f) for t, _, f in result.trace.of("send") if f["src"] == "n0" and f["dst"][0] == "c"
    ]
    during = [f for t, f in replies if 0.1 < t < 0.9 and "Ok(" in repr(f["msg"])]
    assert during == []
    elected = [n for t, n, text in notes(result) if text.startswith("primary of view") and t > 0.1]
    assert elected and elected[0] != "n0"


def test_the_broken_variant_keeps_two_primaries_during_a_partition() -> None:
    w = build("broken", ops=300)
    w.nemesis.plan(FaultPlan("partition", 0.1, 0.8, targets=("n0",), shape="isolate"))
    result = w.run()
    promoted = [(t, node) for t, node, text in notes(result) if text.startswith("primary of view")]
    assert any(node != "n0" and 0.1 < t < 0.9 for t, node in promoted)
    replies = [
        f
        for t, _, f in result.trace.of("send")
        if f["src"] == "n0" and f["dst"][0] == "c" and 0.5 < t < 0.9
    ]
    assert any("Ok(" in repr(f["msg"]) for f in replies), "the deposed primary still acks"
