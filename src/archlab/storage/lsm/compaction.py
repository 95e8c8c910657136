"""Compaction policies of the LSM tree: leveled and size-tiered (codex 4.2).

**Leveled** (RocksDB's default). L0 holds flushed tables, which overlap; L1..Ln each hold one
sorted run of non-overlapping tables, level n targeting ``level_base · T^(n−1)`` bytes
(``T`` = ``size_ratio``, default 10). When L0 has ``l0_trigger`` tables they are all merged
with the L1 tables they overlap. Otherwise the level whose size most exceeds its target
(score = size / target ≥ 1) gives up one table, the one whose overlap with the next level is
smallest relative to its own size (RocksDB's ``kMinOverlappingRatio``), merged into the
overlapping tables below. Each byte is rewritten about ``T`` times per level it descends.

**Size-tiered** (Cassandra's STCS, RocksDB's universal). Every flush adds a run; when
``tier_min_merge`` runs adjacent in age have sizes within a factor ``tier_size_ratio`` of each
other, they are merged into one run. Only age-adjacent runs merge (as in RocksDB's universal
compaction), so runs stay ordered newest first and the newer value of a key always wins. Each
byte is rewritten about once per tier, but a read may probe every run.

Tombstones are dropped only when the output is the oldest data for its key range (no deeper
level, or no older run, overlaps it).

**Write stalls.** :meth:`Policy.pressure` reports the number of L0 tables (leveled) or sorted
runs (tiered) and an estimate of the bytes compaction still has to rewrite; the store slows
writes down past the slowdown thresholds and stops them past the stop thresholds (see
:class:`archlab.storage.lsm.store.LSMOptions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from archlab.storage.lsm.version import Run, Table, Version

CompactionStyle = Literal["leveled", "tiered"]
MAX_LEVELS = 7


@dataclass
class Job:
    """Tables to merge (newest run first) and where the output goes."""

    inputs: list[list[Table]]
    output_level: int
    drop_tombstones: bool
    reason: str
    #: tiered: the positions in ``Version.runs`` of the merged runs
    run_span: tuple[int, int] = (0, 0)

    @property
    def input_tables(self) -> list[Table]:
        return [t for run in self.inputs for t in run]

    @property
    def input_bytes(self) -> int:
        return sum(t.size for t in self.input_tables)


class Policy(Protocol):
    style: CompactionStyle

    def pick(self, version: Version) -> Job | None: ...

    def apply(self, version: Version, job: Job, outputs: list[Table]) -> Version: ...

    def add_flush(self, version: Version, table: Table) -> Version: ...

    def pressure(self, version: Version) -> tuple[int, int]:
        """(L0 tables or sorted runs, estimated pending compaction bytes)."""


class Leveled:
    style: CompactionStyle = "leveled"

    def __init__(self, size_ratio: int, l0_trigger: int, level_base: int) -> None:
        self.size_ratio = size_ratio
        self.l0_trigger = l0_trigger
        self.level_base = level_base

    def target(self, level: int) -> int:
        return int(self.level_base * self.size_ratio ** (level - 1))

    @staticmethod
    def level_run(version: Version, level: int) -> Run | None:
        for run in version.runs:
            if run.level == level:
                return run
        return None

    def pick(self, version: Version) -> Job | None:
        l0 = [r.tables[0] for r in version.level_runs(0)]
        if len(l0) >= self.l0_trigger:
            lo = min(t.info.min_key for t in l0)
            hi = max(t.info.max_key for t in l0)
            l1 = self.level_run(version, 1)
            below = l1.overlapping(lo, hi) if l1 else []
            return Job(
                [[t] for t in l0] + [below],
                1,
                not self._deeper_overlaps(version, 1, lo, hi),
                f"L0 has {len(l0)} tables",
            )
        best_level, best_score = 0, 1.0
        for run in version.runs:
            if run.level >= 1 and run.level < MAX_LEVELS - 1:
                score = run.size / self.target(run.level)
                if score >= best_score:
                    best_level, best_score = run.level, score
        if not best_level:
            return None
        source = self.level_run(version, best_level)
        assert source is not None
        below_run = self.level_run(version, best_level + 1)

        def overlap_ratio(t: Table) -> float:
            if below_run is None:
                return 0.0
            over = below_run.overlapping(t.info.min_key, t.info.max_key)
            return sum(o.size for o in over) / max(1, t.size)

        chosen = min(source.tables, key=lambda t: (overlap_ratio(t), t.info.min_key))
        lo, hi = chosen.info.min_key, chosen.info.max_key
        below = below_run.overlapping(lo, hi) if below_run else []
        return Job(
            [[chosen], below],
            best_level + 1,
            not self._deeper_overlaps(version, best_level + 1, lo, hi),
            f"L{best_level} at {best_score:.2f}x its target",
        )

    @staticmethod
    def _deeper_overlaps(version: Version, level: int, lo: bytes, hi: bytes) -> bool:
        return any(r.level > level and r.overlapping(lo, hi) for r in version.runs)

    def apply(self, version: Version, job: Job, outputs: list[Table]) -> Version:
        gone = {t.file_no for t in job.input_tables}
        tables = [t for t in version.tables() if t.file_no not in gone]
        return self.build(tables + outputs)

    def add_flush(self, version: Version, table: Table) -> Version:
        return self.build([*version.tables(), table])

    @staticmethod
    def build(tables: list[Table]) -> Version:
        l0 = sorted(
            (t for t in tables if t.info.level == 0), key=lambda t: t.info.max_seq, reverse=True
        )
        runs = [Run(0, [t]) for t in l0]
        for level in range(1, MAX_LEVELS):
            members = [t for t in tables if t.info.level == level]
            if members:
                runs.append(Run(level, members))
        return Version(runs)

    def pressure(self, version: Version) -> tuple[int, int]:
        l0 = version.level_runs(0)
        pending = 0
        if len(l0) >= self.l0_trigger:
            l1 = self.level_run(version, 1)
            pending += sum(r.size for r in l0) + (l1.size if l1 else 0)
        for run in version.runs:
            if run.level >= 1:
                excess = run.size - self.target(run.level)
                if excess > 0:
                    pending += excess * (self.size_ratio + 1)
        return len(l0), pending


class Tiered:
    style: CompactionStyle = "tiered"

    def __init__(self, min_merge: int, size_ratio: float, max_merge: int = 32) -> None:
        self.min_merge = min_merge
        self.size_ratio = size_ratio
        self.max_merge = max_merge

    def _window(self, version: Version) -> tuple[int, int] | None:
        runs = version.runs
        for start in range(len(runs)):
            end = start + 1
            lo = hi = runs[start].size
            while end < len(runs) and end - start < self.max_merge:
                size = runs[end].size
                if max(hi, size) > self.size_ratio * min(lo, size):
                    break
                lo, hi = min(lo, size), max(hi, size)
                end += 1
            if end - start >= self.min_merge:
                return start, end
        return None

    def pick(self, version: Version) -> Job | None:
        window = self._window(version)
        if window is None:
            return None
        start, end = window
        runs = version.runs[start:end]
        return Job(
            [r.tables for r in runs],
            max(r.level for r in runs) + 1,
            end == len(version.runs),
            f"{end - start} runs of similar size",
            run_span=window,
        )

    def apply(self, version: Version, job: Job, outputs: list[Table]) -> Version:
        """Replace the merged runs, found by their tables (flushes may have added newer runs
        in front since the job was picked), with the output run in their place."""
        gone = {t.file_no for t in job.input_tables}
        positions = [i for i, r in enumerate(version.runs) if r.tables[0].file_no in gone]
        start, end = positions[0], positions[-1] + 1
        if end - start != job.run_span[1] - job.run_span[0]:
            raise RuntimeError("the runs a tiered compaction merged are no longer adjacent")
        merged = [Run(job.output_level, outputs)] if outputs else []
        return Version(version.runs[:start] + merged + version.runs[end:])

    def add_flush(self, version: Version, table: Table) -> Version:
        return Version([Run(0, [table]), *version.runs])

    def pressure(self, version: Version) -> tuple[int, int]:
        window = self._window(version)
        pending = 0
        if window is not None:
            pending = sum(r.size for r in version.runs[window[0] : window[1]])
        return len(version.runs), pending
