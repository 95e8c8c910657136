"""The asyncio runtime: sans-IO protocol cores over real sockets and files (codex 5.3).

Protocol in one layer, I/O in a thin other one (the h11/aioquic split): the cores of
:mod:`archlab.consensus` never touch a socket or a disk; this package hosts them.

- :mod:`.wire`, :mod:`.codec`, :mod:`.framing` — the versioned binary encoding of Raft
  messages, entries, snapshots and client envelopes, and the length-prefixed framing on TCP;
- :mod:`.atomicfile`, :mod:`.wal`, :mod:`.filestore` — Raft's durable storage on real files:
  a checksummed write-ahead log with group-committed fsync, atomic hard-state and snapshot
  files, crash recovery that cuts a torn tail and reports corruption.
"""
