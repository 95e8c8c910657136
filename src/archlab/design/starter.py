"""``archlab design new NAME``: a starter design file, laid out along PEDALS (codex 2).

The starter holds every field the schema knows (:mod:`archlab.design.parse`), in PEDALS
order, each with a comment saying what it means, which values it takes and which codex rule
reads it. Its values describe a small, sound system, so ``archlab review`` passes it clean;
the user edits it from there. It is written exclusively: an existing file is never
overwritten unless asked.
"""

from __future__ import annotations

import re
from pathlib import Path

from archlab.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

TEMPLATE = """\
# __NAME__: a system design for `archlab review __FILE__`.
# Laid out along PEDALS (codex 2): Process (requirements), Estimation, Design (API and data),
# Architecture, List of components, Scale. Numbers take units: 10M, 1.5k, 2B (billion);
# 1KB = 1000 bytes, 1KiB = 1024 bytes; 30d, 5y (365 days); 99.99% or "4 nines".
# Every section but requirements is optional; a missing field takes the default shown.

name: __NAME__
description: What the system does, in one sentence.   # shown atop the review

# --- P: Process. Clarify the requirements (codex 2.1) -------------------------------------
requirements:
  dau: 1M                          # daily active users
  reads_per_user_per_day: 10       # read requests per active user per day
  writes_per_user_per_day: 1       # write requests per active user per day
  read_size: 1KB                   # payload returned by one read
  write_size: 1KB                  # payload stored by one write (before replication)
  retention: 5y                    # how long written data is kept
  peak_factor: 3                   # peak traffic / daily average
  replication: 3                   # copies of every stored byte
  availability: 99.9%              # target; 99.999% requires multi-region active-active
  latency_ms: 200                  # latency target; under 100 ms needs an in-memory cache
  server_qps: 1k                   # requests/s one application server handles
  cache_fraction: 20%              # hot set to keep in memory, share of a day's reads
  keep_every_error_trace: false    # true: no error trace may be dropped (codex 9.1)
  bursty: false                    # true: traffic arrives in bursts (codex 9.3)

# --- E: Estimation (codex 2.2) --------------------------------------------------------------
# archlab computes the estimate from the requirements. Write your own figures here and the
# review flags any that is more than 2x off: read_qps_peak, write_qps_peak, qps_peak,
# storage_bytes_total, dataset_bytes, cache_bytes, servers_needed, downtime_s_per_year ...
estimation:
  qps_peak: 380                    # e.g. 1M x 11 requests / 86,400 s x 3 = ~382

# --- D: Design. API and data model ---------------------------------------------------------
design:
  id_scheme: uuidv7                # uuidv4 | uuidv7 | ulid | ksuid | snowflake | sequence |
                                   # random | hash; random keys on a B-tree hurt writes (6.2)
  endpoints:                       # the API, one entry per operation
    - name: read item
      method: GET                  # GET HEAD OPTIONS POST PUT PATCH DELETE RPC STREAM
      route: /items/{id}           # free text, shown in findings
      idempotent: true             # default: true for GET, HEAD, OPTIONS only
      zero_rtt: true               # accept TLS 1.3 0-RTT early data: idempotent only (3.4)
      priority: critical           # one of scale.priority_classes
    - name: create item
      method: POST
      route: /items
      idempotent: false
      zero_rtt: false
      priority: critical
  collaboration:                   # collaborative editing only (codex 5.4)
    algorithm: none                # none | ot | crdt; OT needs a central server, not offline
    offline_first: false           # true: clients edit for long periods without a server

# --- A: Architecture -----------------------------------------------------------------------
architecture:
  regions:                         # where it runs (five nines need active-active, Table 1)
    count: 1                       # how many regions serve it
    mode: single                   # single | active-passive | active-active
    # failover: anycast            # none | dns | anycast: how clients leave a failed region (3.2)
    # dns_ttl: 60s                 # with failover: dns, how long resolvers may keep the old address
  transactions: []                 # across services, e.g.
  #  - name: place order
  #    services: [orders, payments]
  #    protocol: saga              # 2pc | saga | local; 2PC blocks on coordinator failure (6.1)

# --- L: List of components -----------------------------------------------------------------
components:
  load_balancers:                  # each: name, layer, protocol
    - name: edge
      layer: 7                     # 4 (packets, raw TCP/UDP) or 7 (HTTP routing) (3.1)
      protocol: https              # http | https | grpc | websocket | tcp | udp | tls
  caches:                          # each: name, kind
    - name: hot-items
      kind: redis                  # redis | memcached | in_process | cdn (cdn is not in-memory)
  databases:                       # each: name, engine, and the settings below
    - name: main
      engine: btree                # btree | lsm (or leave out and name a known product)
      product: postgres            # free text; postgres implies btree with MVCC
      mvcc: true                   # PostgreSQL-style versions + vacuum (4.3)
      shards: 1                    # 1 = unsharded
      replicas: 3                  # copies kept by this database
      consistency: strong          # strict_serializable | serializable | linearizable |
                                   # snapshot | strong | read_committed | causal | eventual
      # id_scheme: uuidv7          # overrides design.id_scheme for this database
      # bloom_filters: true        # LSM only: filters for point lookups (4.2)
      # compaction: tiered         # LSM only: leveled | tiered | universal | fifo (4.2)
      read_pattern: point          # point | range | scan | mixed
      longest_transaction: 5s      # longest transaction expected on it (4.3)
      holds_money: false           # balances or ledger entries (2.1, 5.1)
      share_of_reads: 100%         # share of the estimated reads that reach this database
      share_of_writes: 100%        # share of the estimated writes (and bytes) it stores
      # hot_keys: true             # a few keys take much of the reads (10.2)
      # coalescing: true           # concurrent reads of one key share one query (10.2)
  queues: []                       # e.g. - {name: events, kind: log, product: kafka}
                                   # kind: log (replayable) | queue (deleted once acked)
                                   # delivery: at-most-once | at-least-once | exactly-once
                                   # idempotent_producer: true, dead_letter: true (7.1, 7.2)
  object_stores: []                # e.g. - {name: blobs, kind: s3}  (s3 gcs azure_blob hdfs other)
  services:                        # the services that call other components
    - name: api
      dependencies: [main, hot-items]   # what it calls (any names)
      thread_pool: per_dependency  # shared | per_dependency (bulkheads, 9.2)
      identity: mtls               # mtls | token | network | none: who is calling? (9.4)
  model_servers: []                # e.g. - {name: chat, batching: continuous, kv_cache: paged}

# --- S: Scale and operate it ---------------------------------------------------------------
scale:
  rate_limits:                     # caps per client, in front of everything (9.3)
    - name: per-user
      scope: per_user              # free text: per_user, per_ip, per_tenant, global ...
      limit: 100/s                 # requests per second (100/s, 5k qps)
  load_shedding: true              # shed low-priority work under overload (9.3)
  priority_classes: [critical, normal, background]   # endpoints name one; shed from the last
  tracing:                         # distributed trace sampling
    sampling: tail                 # head | tail | all | none (9.1)
    rate: 10%                      # share of ordinary traces kept (not with all/none)
"""


def starter_text(name: str, filename: str) -> str:
    """The starter design for ``name``, mentioning ``filename`` in its header."""
    if not _NAME.match(name):
        raise ConfigError(f"design name: expected letters, digits, '.', '-' or '_', found {name!r}")
    return TEMPLATE.replace("__NAME__", name).replace("__FILE__", filename)


def target_path(name: str, output: Path | None) -> Path:
    """Where ``design new NAME`` writes: ``--output`` or ``NAME.yaml`` here."""
    if output is not None:
        return output
    return Path(name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")


def write_starter(name: str, output: Path | None = None, force: bool = False) -> Path:
    """Write the starter; refuse to replace an existing file unless ``force``."""
    path = target_path(name, output)
    stem = path.name.removesuffix(".yaml").removesuffix(".yml") if output is None else name
    text = starter_text(stem, path.name)
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory; give a file name")
    if not path.parent.exists():
        raise ConfigError(f"{path}: directory {path.parent} does not exist")
    try:
        with path.open("w" if force else "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise ConfigError(f"{path}: already exists; use --force to overwrite it") from None
    return path
