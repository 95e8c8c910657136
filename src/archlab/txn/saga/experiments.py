"""Codex 6.1 claims: sagas trade isolation for availability; two-phase commit the reverse.

One module per experiment, both over the money-transfer domain of
:mod:`archlab.txn.saga.transfer` (importing this module registers them):

- ``txn.saga_isolation`` (:mod:`.isolation`): compensations restore the invariant; observers
  see intermediate states, which two-phase commit (the control) does not show.
- ``txn.partition_availability`` (:mod:`.availability`): with one bank partitioned away, 2PC
  stops committing while a saga keeps accepting transfers.
"""

from archlab.txn.saga.availability import (
    AvailabilityMeasurement,
    DesignAvailability,
    judge_partition_availability,
    partition_availability,
)
from archlab.txn.saga.isolation import (
    SagaIsolationMeasurement,
    judge_saga_isolation,
    saga_isolation,
)

__all__ = [
    "AvailabilityMeasurement",
    "DesignAvailability",
    "SagaIsolationMeasurement",
    "judge_partition_availability",
    "judge_saga_isolation",
    "partition_availability",
    "saga_isolation",
]
