"""The judge of consensus.cost_per_command gives each verdict on the values that call for it."""

from __future__ import annotations

from archlab.consensus.comparison.experiments import judge_cost_per_command
from archlab.lab import Value

SIZES = (3, 7)


def values(
    *,
    delays: float = 2.0,
    per_follower: dict[str, float] | None = None,
    saving: float = 5.0,
    growth: float = 1.0,
) -> dict[str, Value]:
    per = per_follower or {"raft": 4.0, "paxos": 4.0, "zab": 4.0}
    found: dict[str, Value] = {"sizes": ",".join(map(str, SIZES))}
    for protocol, cost in per.items():
        found[f"delays_{protocol}"] = delays
        for n in SIZES:
            scale = growth if n == SIZES[-1] else 1.0
            unbatched = cost * (n - 1) * scale
            found[f"messages_{protocol}_{n}_unbatched"] = unbatched
            found[f"messages_{protocol}_{n}_batched"] = unbatched / saving
    return found


def test_equal_costs_one_round_trip_and_batching_hold() -> None:
    judgement = judge_cost_per_command(values())
    assert judgement.verdict == "holds"
    assert "2 message delays" in judgement.reason


def test_different_costs_per_command_are_nuanced() -> None:
    judgement = judge_cost_per_command(values(per_follower={"raft": 4.0, "paxos": 4.0, "zab": 3.0}))
    assert judgement.verdict == "nuanced" and "1.33x apart" in judgement.reason
    assert "Zab sends 0.75x the messages of Raft" in judgement.reason


def test_a_weak_batching_saving_is_nuanced() -> None:
    assert judge_cost_per_command(values(saving=1.3)).verdict == "nuanced"


def test_more_than_one_round_trip_refutes() -> None:
    judgement = judge_cost_per_command(values(delays=4.0))
    assert judgement.verdict == "refuted" and "one round trip" in judgement.reason


def test_messages_not_growing_with_the_cluster_refute() -> None:
    assert judge_cost_per_command(values(growth=0.3)).verdict == "refuted"
