"""The 5.1 judges give each verdict they can give, from measured and hand-made counts."""

from __future__ import annotations

import dataclasses

import pytest

from archlab.sim import weakstores as weak
from archlab.sim.checked_runs import (
    CheckCounts,
    Tally,
    check_isolation_into,
    check_linearizable_into,
    make_world,
)
from archlab.sim.experiments import (
    LaggingReplicaMeasurement,
    SkewChecks,
    SkewedClocksMeasurement,
    StoreChecks,
    WriteSkewMeasurement,
    judge_linearizable_not_serializable,
    judge_serializable_not_linearizable,
    judge_serializable_not_strict,
)


def counts(seeds: int, invalid: int = 0, unknown: int = 0) -> CheckCounts:
    return CheckCounts(seeds - invalid - unknown, invalid, unknown)


def all_cited(judgement: object) -> bool:
    evidence = judgement.evidence  # type: ignore[attr-defined]
    compared = [e for e in evidence if e.threshold is not None]
    return bool(compared) and all(e.threshold.source for e in compared)


# -- a lagging replica ------------------------------------------------------------------------


CLEAN = counts(50)
STALE = counts(50, 50)


def lagging(
    replica_lin: CheckCounts = STALE,
    replica_ser: CheckCounts = CLEAN,
    primary_lin: CheckCounts = CLEAN,
    primary_ser: CheckCounts = CLEAN,
) -> LaggingReplicaMeasurement:
    """Defaults: the quick profile's run (seed 0, 50 ms lag)."""
    replica = StoreChecks(replica_lin, replica_ser, counts(50, 50))
    primary = StoreChecks(primary_lin, primary_ser, counts(50))
    return LaggingReplicaMeasurement(50, 50.0, replica, primary)


@pytest.mark.parametrize(
    ("measured", "verdict", "fragment"),
    [
        (lagging(), "holds", "50/50"),
        # One proven stale read is enough for "can fail".
        (lagging(replica_lin=counts(50, 1)), "holds", "1/50"),
        (lagging(replica_lin=counts(50, 0)), "refuted", "caught stale"),
        (lagging(replica_ser=counts(50, 1)), "refuted", "not serializable"),
        # The control counts: reads at the primary flagged too void the comparison.
        (lagging(primary_lin=counts(50, 2)), "nuanced", "control failed"),
        (lagging(primary_ser=counts(50, 1)), "nuanced", "control failed"),
        (lagging(replica_lin=counts(50, 0, 3)), "nuanced", "inconclusive"),
    ],
)
def test_lagging_replica_judge(
    measured: LaggingReplicaMeasurement, verdict: str, fragment: str
) -> None:
    judgement = judge_serializable_not_linearizable(measured)
    assert (judgement.verdict, fragment in judgement.reason) == (verdict, True)
    assert all_cited(judgement)


# -- write skew -------------------------------------------------------------------------------

#: The quick profile's run (seed 0): every seed showed write skew, the serial control none.
WRITE_SKEW = WriteSkewMeasurement(
    seeds=50,
    linearizable=counts(50),
    serializable=counts(50, 50),
    read_committed=counts(50),
    g2_seeds=50,
    anomalies={"G-single": 290, "G2": 287},
    serial_serializable=counts(50),
)


@pytest.mark.parametrize(
    ("changes", "verdict", "fragment"),
    [
        ({}, "holds", "write skew (G2) in 50"),
        ({"serializable": counts(50), "g2_seeds": 0, "anomalies": {}}, "refuted", "stayed"),
        ({"g2_seeds": 0, "anomalies": {"G-single": 12}}, "nuanced", "other anomalies"),
        ({"linearizable": counts(50, 1)}, "nuanced", "not linearizable"),
        # The serial control counts: one client flagged means the grouping or checker is off.
        ({"serial_serializable": counts(50, 1)}, "nuanced", "serial control failed"),
        ({"serializable": counts(50, 0, 50), "g2_seeds": 0}, "nuanced", "inconclusive"),
    ],
)
def test_write_skew_judge(changes: dict[str, object], verdict: str, fragment: str) -> None:
    measured = dataclasses.replace(WRITE_SKEW, **changes)  # type: ignore[arg-type]
    judgement = judge_linearizable_not_serializable(measured)
    assert (judgement.verdict, fragment in judgement.reason) == (verdict, True)
    assert all_cited(judgement)


# -- skewed clocks ----------------------------------------------------------------------------


def skewed(*rows: tuple[float, int, int]) -> SkewedClocksMeasurement:
    """Rows of (skew ms, seeds not serializable, seeds not strictly serializable), 25 seeds."""
    return SkewedClocksMeasurement(
        seeds=25,
        ops=120,
        skews=[SkewChecks(s, counts(25, ser), counts(25, strict), 0) for s, ser, strict in rows],
    )


#: The quick profile (seed 0): a gateway 50 ms behind broke strictness in every seed.
MEASURED_50MS = skewed((0.0, 0, 0), (50.0, 0, 25))
#: The quick profile with the second gateway only 5 ms behind (seed 0, a real run): no seed
#: broke strictness, since a transaction's round trip (4 hops of 1-5 ms) outlasts the skew.
MEASURED_5MS = skewed((0.0, 0, 0), (5.0, 0, 0))


@pytest.mark.parametrize(
    ("measured", "verdict", "fragment"),
    [
        (MEASURED_50MS, "holds", "25/25"),
        (skewed((0.0, 0, 0), (1.0, 0, 0), (20.0, 0, 3), (50.0, 0, 25)), "holds", "20 ms"),
        (MEASURED_5MS, "refuted", "never reordered"),
        (skewed((0.0, 0, 0), (50.0, 1, 25)), "refuted", "not even stay serializable"),
        # The control counts: clocks in step must never break strictness.
        (skewed((0.0, 0, 3), (50.0, 0, 25)), "nuanced", "control failed"),
        (skewed((50.0, 0, 25)), "nuanced", "without a control"),
    ],
)
def test_skewed_clocks_judge(
    measured: SkewedClocksMeasurement, verdict: str, fragment: str
) -> None:
    judgement = judge_serializable_not_strict(measured)
    assert (judgement.verdict, fragment in judgement.reason) == (verdict, True)
    assert all_cited(judgement)


def test_a_broken_control_in_a_real_run_keeps_the_lag_from_being_shown() -> None:
    """Replica reads run as the 'control' (a broken variant): the checker flags it, so the
    verdict cannot hold however stale the replica reads are."""
    params = {"ops": 60, "clients": 3}
    tally = Tally()
    for seed in range(3):
        world = make_world(
            seed, params, weak.lagging_replica_factory(0.05), weak.replica_stubs(),
            weak.SingleKeyWorkload(), 3,
        )  # fmt: skip
        history = world.run().history
        tally.seeds += 1
        check_linearizable_into(tally, weak.object_view(history))
        check_isolation_into(tally, history, "serializable")
        check_isolation_into(tally, history, "strict-serializable")
    broken = StoreChecks(
        tally.counts("linearizable"),
        tally.counts("serializable"),
        tally.counts("strict-serializable"),
    )
    assert broken.linearizable.invalid > 0
    measured = LaggingReplicaMeasurement(3, 50.0, replica=broken, primary=broken)
    judgement = judge_serializable_not_linearizable(measured)
    assert judgement.verdict == "nuanced" and "control failed" in judgement.reason
