"""Review rules about storage engines and keys (codex 4.1–4.3, 6.2).

Each rule looks at one database of the design with the share of the estimated reads and
writes that reach it: random keys on a B-tree under a high insert rate (6.2), long
transactions on a PostgreSQL-style MVCC database under heavy updates (4.3), an LSM tree
answering point lookups without Bloom filters, and leveled compaction under a workload that
writes more than it reads (4.2).
"""

from __future__ import annotations

from collections.abc import Iterator

from archlab.design import units
from archlab.design.estimate import Estimate
from archlab.design.model import RANDOM_ID_SCHEMES, Design
from archlab.design.rules.base import Hit, db_read_qps, db_write_qps, rule

HIGH_INSERT_QPS = 1_000
LONG_TRANSACTION_S = 60
PINNED_VERSIONS = 1_000_000
FREEZE_MAX_AGE_XIDS = 200_000_000  # PostgreSQL's autovacuum_freeze_max_age default


@rule(
    id="ids.random_keys_on_btree",
    title="Random primary keys on a B-tree under a high write rate",
    section="6.2",
    severity="warning",
    why="""A B-tree keeps keys sorted in fixed-size pages. Random identifiers such as UUIDv4
    need no coordination to generate, but consecutive inserts land on unrelated pages: each
    one reads a different page into memory, pages split half full and the index fragments,
    so once the index outgrows memory every insert is random I/O. Published PostgreSQL
    measurements put random-UUID insert throughput at a fifth (HDD) to a half (SSD) of
    sequential keys on large tables.""",
    alternative="""Keep coordination-free IDs that sort by creation time: UUIDv7, ULID or
    KSUID (a timestamp prefix, random bits after it), or Snowflake IDs if assigning machine
    IDs is acceptable. Inserts then append near the right edge of the index.""",
    measured_by=("storage.uuid_keys", "ids.btree_locality"),
)
def random_keys_on_btree(design: Design, est: Estimate) -> Iterator[Hit]:
    for db in design.databases:
        scheme = design.id_scheme_of(db)
        writes = db_write_qps(est, db)
        if db.engine != "btree" or scheme not in RANDOM_ID_SCHEMES or writes < HIGH_INSERT_QPS:
            continue
        yield Hit(
            db.path,
            f"{db.name}: B-tree keyed by {scheme} IDs at about {units.format_count(writes)} "
            f"writes/s at peak (≥ {units.format_count(HIGH_INSERT_QPS)}/s)",
        )


@rule(
    id="mvcc.long_transactions",
    title="Long-running transactions on an MVCC database under heavy updates",
    section="4.3",
    severity="warning",
    why="""PostgreSQL-style MVCC writes a new row version for every update and leaves the old
    one dead until vacuum removes it, but vacuum may not remove a version that any open
    snapshot could still see. One long transaction therefore halts cleanup for the whole
    database while updates keep creating dead versions: tables and indexes bloat and queries
    slow down. It also holds back freezing of old transaction IDs; if the 32-bit counter
    nears wraparound, the database stops accepting writes to avoid corrupting data.""",
    alternative="""Keep transactions short: split long jobs into small batches, set
    idle_in_transaction_session_timeout and statement_timeout, run long reports on a replica
    or an exported snapshot; monitor the oldest xmin and tune autovacuum and
    autovacuum_freeze_max_age.""",
    measured_by=("storage.mvcc.bloat", "storage.mvcc.freezing"),
)
def long_transactions(design: Design, est: Estimate) -> Iterator[Hit]:
    for db in design.databases:
        longest = db.longest_transaction_s
        if not db.mvcc or longest is None or longest < LONG_TRANSACTION_S:
            continue
        writes = db_write_qps(est, db)
        pinned = writes * longest
        if pinned < PINNED_VERSIONS:
            continue
        freeze = units.format_duration(FREEZE_MAX_AGE_XIDS / writes)
        yield Hit(
            db.path,
            f"{db.name}: MVCC with transactions lasting up to "
            f"{units.format_duration(longest)} at about {units.format_count(writes)} writes/s: "
            f"each such transaction keeps about {units.format_count(pinned)} dead row versions "
            f"from being vacuumed; at one write per transaction, 200M XIDs (the default "
            f"autovacuum_freeze_max_age) go by every {freeze}",
        )


@rule(
    id="lsm.point_reads_without_bloom_filters",
    title="LSM point lookups without Bloom filters",
    section="4.2",
    severity="warning",
    why="""An LSM tree answers a read from the memtable and then from its SSTables, newest
    first (4.1); a key that is missing, or was written long ago, costs a probe in every
    sorted run that compaction (4.2) has not yet merged. Bloom filters, about 10 bits per key
    for roughly 1% false positives, let a point lookup skip nearly every file that cannot
    hold the key. Without them each lookup pays the full read amplification.""",
    alternative="""Enable Bloom filters (about 10 bits per key, roughly 1.25 bytes of memory
    per key), or prefix filters that match the lookup pattern.""",
    measured_by=("storage.bloom_filters",),
)
def point_reads_without_bloom_filters(design: Design, est: Estimate) -> Iterator[Hit]:
    for db in design.databases:
        reads = db_read_qps(est, db)
        if db.engine != "lsm" or db.bloom_filters or db.read_pattern != "point" or reads <= 0:
            continue
        yield Hit(
            db.path,
            f"{db.name}: LSM with bloom_filters: false serving about "
            f"{units.format_count(reads)} point lookups/s at peak",
        )


@rule(
    id="lsm.leveled_compaction_for_writes",
    title="Leveled compaction for a write-dominated workload",
    section="4.2",
    severity="warning",
    why="""Leveled compaction keeps every level one sorted run by merging data into the next
    level again and again: little space amplification and cheap reads, but each byte is
    rewritten roughly fanout (about 10) times per level. When writes dominate, that write
    amplification eats the disk bandwidth, and if compaction falls behind the incoming write
    rate the engine stalls writes. Tiered compaction rewrites each byte about once per level
    and suits write-intensive workloads, at the cost of more files per read.""",
    alternative="""Tiered (size-tiered or universal) compaction, accepting more sorted runs per
    read and more space amplification; or keep leveled and budget disk bandwidth for about
    10x write amplification.""",
    measured_by=("storage.compaction_styles",),
)
def leveled_compaction_for_writes(design: Design, est: Estimate) -> Iterator[Hit]:
    for db in design.databases:
        reads, writes = db_read_qps(est, db), db_write_qps(est, db)
        if db.engine != "lsm" or db.compaction != "leveled" or writes <= reads:
            continue
        yield Hit(
            db.path,
            f"{db.name}: leveled compaction while writes ({units.format_count(writes)}/s) "
            f"outnumber reads ({units.format_count(reads)}/s) at peak",
        )
