"""The judge of consensus.cost_per_command gives each verdict on the values that call for it."""

from __future__ import annotations

from archlab.consensus.comparison.clusters import PROTOCOLS
from archlab.consensus.comparison.experiments import (
    CommandCost,
    CostMeasurement,
    judge_cost_per_command,
)

SIZES = (3, 5, 7)


def measured(
    *,
    delays: float = 2.0,
    per_follower: dict[str, float] | None = None,
    saving: float = 5.0,
    growth: float = 1.0,
) -> CostMeasurement:
    per = per_follower or {"raft": 4.0, "paxos": 4.0, "zab": 4.0}
    cells = []
    for protocol, cost in per.items():
        for n in SIZES:
            scale = growth if n == SIZES[-1] else 1.0
            unbatched = cost * (n - 1) * scale
            for batched, messages in ((False, unbatched), (True, unbatched / saving)):
                cells.append(CommandCost(protocol, n, batched, messages, 1.0, 15.0, 30.0, 900.0))
    return CostMeasurement(SIZES, {p: delays for p in PROTOCOLS}, tuple(cells))


def test_equal_costs_one_round_trip_and_batching_hold() -> None:
    judgement = judge_cost_per_command(measured())
    assert judgement.verdict == "holds"
    assert "Raft 2.00, Multi-Paxos 2.00, Zab 2.00" in judgement.reason
    assert all(e.met for e in judgement.evidence)


def test_the_measured_gap_between_raft_and_zab_is_nuanced() -> None:
    # The quick profile at seed 0: Raft 8.2, Multi-Paxos 7.9, Zab 5.9 messages per command at
    # 3 nodes (Raft's heartbeats every tick), batching 6x.
    judgement = judge_cost_per_command(
        measured(per_follower={"raft": 4.12, "paxos": 3.95, "zab": 2.93}, saving=6.1)
    )
    assert judgement.verdict == "nuanced"
    assert "Zab sends 0.71x the messages of Raft" in judgement.reason
    [gap] = [e for e in judgement.evidence if e.met is False]
    assert gap.value == 1.406 and gap.at_most is not None and gap.at_most.value == 1.1


def test_a_weak_batching_saving_is_nuanced() -> None:
    assert judge_cost_per_command(measured(saving=1.3)).verdict == "nuanced"


def test_batching_that_saves_nothing_refutes() -> None:
    judgement = judge_cost_per_command(measured(saving=1.05))
    assert judgement.verdict == "refuted" and "batching saved nothing" in judgement.reason


def test_more_than_one_round_trip_refutes() -> None:
    judgement = judge_cost_per_command(measured(delays=3.0))
    assert judgement.verdict == "refuted" and "not one round trip" in judgement.reason


def test_messages_not_growing_with_the_cluster_refute() -> None:
    assert judge_cost_per_command(measured(growth=0.3)).verdict == "refuted"
    assert judge_cost_per_command(measured(growth=2.0)).verdict == "refuted"  # all-to-all
