"""Codex 5.2 claims: TrueTime and commit wait, measured in the Spanner-style store.

One module per experiment (importing this module registers both):

- ``txn.external_consistency`` (:mod:`.external_consistency`): with commit wait the
  strict-serializability checker accepts every history; without it, it finds real-time
  anomalies.
- ``txn.commit_wait_latency`` (:mod:`.commit_wait_latency`): the latency commit wait adds,
  against 2ε̄.
"""

from archlab.txn.commit_wait_latency import (
    CommitWaitMeasurement,
    UncertaintyLevel,
    commit_wait_latency,
    judge_commit_wait_latency,
)
from archlab.txn.external_consistency import (
    ExternalConsistencyMeasurement,
    external_consistency,
    judge_external_consistency,
)

__all__ = [
    "CommitWaitMeasurement",
    "ExternalConsistencyMeasurement",
    "UncertaintyLevel",
    "commit_wait_latency",
    "external_consistency",
    "judge_commit_wait_latency",
    "judge_external_consistency",
]
