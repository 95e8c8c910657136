"""Codex 5.1 claims: linearizability, serializability and strict serializability are different.

One experiment per module, sharing :mod:`archlab.sim.checked_runs` (runs over seeds, checker
tallies and the thresholds every rule uses); importing them here registers them:

- :mod:`archlab.sim.measure_lagging_replica`: serializable, not linearizable;
- :mod:`archlab.sim.measure_write_skew`: linearizable objects, transactions not serializable;
- :mod:`archlab.sim.measure_skewed_clocks`: serializable, not strictly serializable.

The verdicts are counts of the checkers' answers, never labels written by hand, and each
experiment runs a control that is correct by construction and must come out clean.
"""

from __future__ import annotations

from archlab.sim.measure_lagging_replica import (
    LaggingReplicaMeasurement,
    StoreChecks,
    judge_serializable_not_linearizable,
    serializable_not_linearizable,
)
from archlab.sim.measure_skewed_clocks import (
    SkewChecks,
    SkewedClocksMeasurement,
    judge_serializable_not_strict,
    serializable_not_strict,
)
from archlab.sim.measure_write_skew import (
    WriteSkewMeasurement,
    judge_linearizable_not_serializable,
    linearizable_not_serializable,
)

__all__ = [
    "LaggingReplicaMeasurement",
    "SkewChecks",
    "SkewedClocksMeasurement",
    "StoreChecks",
    "WriteSkewMeasurement",
    "judge_linearizable_not_serializable",
    "judge_serializable_not_linearizable",
    "judge_serializable_not_strict",
    "linearizable_not_serializable",
    "serializable_not_linearizable",
    "serializable_not_strict",
]
