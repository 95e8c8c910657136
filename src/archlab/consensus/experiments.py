"""Codex 5.3 claims about Raft, measured in the deterministic simulator; one module each.

- ``consensus.election_randomness`` (:mod:`.election_randomness`): the Raft paper's Figure 16,
  time to elect a new leader after a crash for timeout ranges from 150–150 to 150–300 ms.
- ``consensus.partition_availability`` (:mod:`.partition_availability`): a partition that
  cuts the leader off with a minority; what each side commits and how fast each recovers.

Importing this module registers both (the lab discovers ``experiments`` modules). The figures
they are compared with are in docs/references.md §5.1–5.3.
"""

from archlab.consensus.election_randomness import (
    ElectionRandomnessMeasurement,
    RangeStats,
    election_randomness,
    judge_election_randomness,
    parse_ranges,
)
from archlab.consensus.partition_availability import (
    PartitionMeasurement,
    judge_partition_availability,
    partition_availability,
)

__all__ = [
    "ElectionRandomnessMeasurement",
    "PartitionMeasurement",
    "RangeStats",
    "election_randomness",
    "judge_election_randomness",
    "judge_partition_availability",
    "parse_ranges",
    "partition_availability",
]
