"""Discord (codex 10.2): a coalescing data service in front of a store, and GC tail latency.

- :mod:`.coalesce` — one in-flight fetch per key, shared by every concurrent reader;
- :mod:`.store` — archlab's LSM behind a per-read cost and a bounded number of concurrent
  reads, so a hot partition can saturate it;
- :mod:`.service` — data-service instances on TCP and the client that routes keys to them
  (consistent hashing, or at random);
- :mod:`.gcserver` — a read server whose allocation-heavy path triggers CPython's cyclic
  collector, as one shared multi-threaded process or one process per core;
- :mod:`.experiments` — ``cases.discord_coalescing`` and ``cases.discord_tail_latency``.
"""
