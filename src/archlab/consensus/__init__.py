"""Chapter 5.3: consensus — Raft (and, later, Multi-Paxos and Zab) driving one replicated kv.

Codex 5.3 says replicated state machines rely on a consensus algorithm to agree on the order of
commands. This package makes that concrete in three layers, each usable on its own:

- :mod:`archlab.consensus.client` — the protocol-neutral client interface: the key-value
  operations (read, write, cas), client sessions (session id + sequence number), the request and
  reply envelopes, and their canonical byte encoding. Every protocol core orders these bytes.
- :mod:`archlab.consensus.kv` — the deterministic replicated key-value state machine: applies
  committed commands in order, deduplicates retried commands through sessions (the reply is
  cached and returned again), and snapshots/restores itself for log compaction.
- :mod:`archlab.consensus.raft` — Raft as a sans-IO state machine in the style of etcd's raft
  library: the caller drives it with ``step(message)``, ``tick()``, ``propose(data)``, then
  takes a :class:`~archlab.consensus.raft.Ready` batch of effects (state and entries to persist
  *before* sending the messages that depend on them, messages, a snapshot to install,
  committed entries to apply, read states) and acknowledges it with ``advance()``.

Nothing here performs I/O, reads a clock, starts a thread or touches global randomness: time
is ticks, randomness comes from an injected :class:`random.Random`, persistence goes through an
injected storage object. The deterministic simulator and the asyncio runtime host the same
objects.

Around the cores:

- :mod:`archlab.consensus.server` — how a host drives a replica of the kv store (tick,
  receive, request; drain -> sync, send, respond, in that order), whatever its protocol;
  :class:`archlab.consensus.raft.server.RaftServer` is Raft's.
- :mod:`archlab.consensus.simhost`, :mod:`archlab.consensus.simclient`,
  :mod:`archlab.consensus.simscenario` — any such server in the deterministic simulator: the
  host node, the client stub (sessions, redirects), the scenario scaffolding and the
  leader-aimed nemesis; :mod:`archlab.consensus.scenarios` registers ``archlab sim raft``.
- :mod:`archlab.consensus.experiments` — the 5.3 claims about Raft (Figure 16, partitions).
"""
