"""Raft, Multi-Paxos and Zab side by side on the same workload (codex 5.3).

- :mod:`.batching`: :class:`~.batching.BatchingServer`, a wrapper over any
  :class:`~archlab.consensus.server.ConsensusServer` that holds client requests until the next
  protocol event, so the commands arriving in between share one round (with and without
  batching, for every protocol alike);
- :mod:`.clusters`: how each protocol's servers are built on simulated hosts, with the same
  timing (tick, election timeout, heartbeat) and the same client and workload;
- :mod:`.measure`: one simulated run per (protocol, cluster size, batching), counting the
  messages between servers and the fsyncs per committed command, and the command latency;
- :mod:`.experiments`: the codex 5.3 claim measured with them.
"""
