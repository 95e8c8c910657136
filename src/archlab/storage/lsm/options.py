"""The LSM tree's knobs (:class:`LSMOptions`) and its counters (:class:`LSMStats`).

Defaults are scaled from RocksDB's for a Python compactor; :mod:`archlab.storage.lsm.store`
explains each stall threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archlab.errors import ConfigError
from archlab.storage.lsm.compaction import CompactionStyle


@dataclass
class LSMOptions:
    """Every knob of the LSM tree, with defaults scaled from RocksDB's (see the store)."""

    compaction: CompactionStyle = "leveled"
    memtable_bytes: int = 4 << 20
    max_immutable: int = 2
    table_bytes: int = 2 << 20
    block_bytes: int = 4096
    bloom_bits_per_key: float = 10.0
    block_cache_bytes: int = 64 << 20
    size_ratio: int = 10
    l0_trigger: int = 4
    l0_slowdown: int = 8
    l0_stop: int = 12
    level_base_bytes: int = 0  # 0: l0_trigger × memtable_bytes (RocksDB: 256 MB = 4 × 64 MB)
    tier_min_merge: int = 4
    tier_size_ratio: float = 3.0
    pending_slowdown_bytes: int = 0  # 0: 32 × memtable_bytes
    pending_stop_bytes: int = 0  # 0: 128 × memtable_bytes
    delayed_write_rate: int = 4 << 20
    background: bool = True
    group_bytes: int = 1 << 20
    group_ms: float = 10.0
    manifest_bytes: int = 1 << 20  # rewrite the manifest as one snapshot past this size
    compaction_memory_bytes: int = 512 << 10  # the merge's input buffers, however big the inputs

    def __post_init__(self) -> None:
        if self.compaction not in ("leveled", "tiered"):
            raise ConfigError(f"compaction={self.compaction!r}: expected leveled or tiered")
        for name in ("memtable_bytes", "table_bytes", "block_bytes", "size_ratio", "l0_trigger"):
            if getattr(self, name) < 1:
                raise ConfigError(f"LSM option {name} must be positive")
        if self.size_ratio < 2:
            raise ConfigError("LSM option size_ratio must be at least 2")
        if not self.l0_trigger <= self.l0_slowdown <= self.l0_stop:
            raise ConfigError("LSM options need l0_trigger <= l0_slowdown <= l0_stop")
        if self.tier_min_merge < 2:
            raise ConfigError("LSM option tier_min_merge must be at least 2")
        if self.bloom_bits_per_key < 0:
            raise ConfigError("LSM option bloom_bits_per_key must be >= 0 (0: no filters)")
        if not self.level_base_bytes:
            self.level_base_bytes = self.l0_trigger * self.memtable_bytes
        if not self.pending_slowdown_bytes:
            self.pending_slowdown_bytes = 32 * self.memtable_bytes
        if not self.pending_stop_bytes:
            self.pending_stop_bytes = 128 * self.memtable_bytes


@dataclass
class LSMStats:
    puts: int = 0
    deletes: int = 0
    gets: int = 0
    user_bytes: int = 0
    wal_bytes: int = 0
    flush_bytes: int = 0
    flushes: int = 0
    compactions: int = 0
    compaction_bytes_written: dict[int, int] = field(default_factory=dict)
    compaction_bytes_read: int = 0
    get_bytes_read: int = 0
    tables_probed: int = 0
    bloom_negatives: int = 0
    bloom_false_positives: int = 0
    stall_events: int = 0
    stall_seconds: float = 0.0
    slowdown_events: int = 0
    slowdown_seconds: float = 0.0
    stop_events: int = 0
    stop_seconds: float = 0.0
