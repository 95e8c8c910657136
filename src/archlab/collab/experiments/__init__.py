"""Chapter 5.4 claims: CRDTs vs operational transformation, measured.

* ``collab.offline_convergence``: with the OT server unreachable nothing is committed, while
  CRDT peers keep syncing with each other; both converge once connectivity returns.
* ``collab.tombstone_overhead``: what the CRDT document costs per visible character over a
  real editing trace, with and without tombstone collection, against the plain text and the
  OT server's document.
* ``collab.server_bottleneck``: the OT server's load and latency as editors grow, against a
  CRDT peer's, and where the server saturates.

Results based on the editing traces use Joseph Gentle's editing-traces (CC BY 4.0).
"""

from archlab.collab.experiments.bottleneck import (
    ServerBottleneck,
    judge_server_bottleneck,
    server_bottleneck,
)
from archlab.collab.experiments.offline import (
    OfflineConvergence,
    OutageRun,
    judge_offline_convergence,
    offline_convergence,
)
from archlab.collab.experiments.tombstones import (
    TombstoneOverhead,
    judge_tombstone_overhead,
    tombstone_overhead,
)

__all__ = [
    "OfflineConvergence",
    "OutageRun",
    "ServerBottleneck",
    "TombstoneOverhead",
    "judge_offline_convergence",
    "judge_server_bottleneck",
    "judge_tombstone_overhead",
    "offline_convergence",
    "server_bottleneck",
    "tombstone_overhead",
]
